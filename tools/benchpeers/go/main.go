// The Go peer for tools/bench: an echo or HTTP server on Go's own netpoller (package net).
//
// Usage: goserver -listen 127.0.0.1:0 -protocol echo|http
// Prints "listening on HOST:PORT" once bound, like `netpoll serve`, and runs until SIGINT/SIGTERM.
// The suite runs it with GOMAXPROCS=1 when it pins it to one core, so that Go, like
// `netpoll serve --workers 1` and the one-loop SwiftNIO peer, has a single thread running code,
// and with GOMAXPROCS=2 (unpinned) in its two-core row.
//
// The HTTP variant is net/http with the same 19-byte body as `netpoll serve --protocol http`:
// what a Go user would write, not a hand-rolled parser.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

const body = "Hello from netpoll\n"

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on, HOST:PORT")
	protocol := flag.String("protocol", "echo", "echo or http")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "goserver: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		ln.Close()
		os.Exit(0)
	}()

	switch *protocol {
	case "echo":
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go echo(c)
		}
	case "http":
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, body)
		})
		http.Serve(ln, handler)
	default:
		fmt.Fprintf(os.Stderr, "goserver: unknown -protocol %q (echo or http)\n", *protocol)
		os.Exit(2)
	}
}

// echo writes back what it reads until the peer closes, with one 64 KiB buffer per connection
// (the size `netpoll serve` uses).
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64*1024)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
