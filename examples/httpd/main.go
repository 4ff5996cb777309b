// Command httpd is the network demo and test application for Linux guests.
//
//	httpd [ADDR]        answer every HTTP request on ADDR (default :8080)
//	httpd get URL       fetch URL (retrying for 30 s) and print the body
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "get" {
		os.Exit(get(os.Args[2]))
	}
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from guest httpd at %s\n", r.Host)
	})
	fmt.Println("httpd: listening on", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}

func get(url string) int {
	client := http.Client{Timeout: 3 * time.Second}
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		var resp *http.Response
		if resp, err = client.Get(url); err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("httpd get: %s", body)
		return 0
	}
	fmt.Println("httpd get:", err)
	return 1
}
