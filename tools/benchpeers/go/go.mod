module netpoll/benchpeer

go 1.19
