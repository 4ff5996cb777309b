// Command httpd is the network demo and test application for Linux guests.
//
//	httpd [ADDR]        answer every HTTP request on ADDR (default :8080)
//	httpd get URL       fetch URL (retrying for 30 s) and print the body
//
// Besides the greeting (which names $HTTPD_VERSION when set), the server has
// what the Kubernetes tests (tests/k8s) need of a guest: GET /file?path=P
// prints the guest's file P, PUT /file?path=P writes it, and /stop makes the
// server stop answering while the guest keeps running, for liveness probes.
// It is a test application: never expose it.
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
	version := ""
	if v := os.Getenv("HTTPD_VERSION"); v != "" {
		version = " (" + v + ")"
	}
	srv := &http.Server{Addr: addr}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from guest httpd at %s%s\n", r.Host, version)
	})
	http.HandleFunc("/file", file)
	http.HandleFunc("/stop", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "httpd: no longer answering")
		fmt.Println("httpd: /stop: no longer answering")
		go func() {
			time.Sleep(100 * time.Millisecond)
			srv.Close()
		}()
	})
	fmt.Println("httpd: listening on", addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	select {} // stopped answering, still running
}

// file reads (GET) or writes (PUT) the file named by the path parameter.
func file(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("path")
	switch r.Method {
	case http.MethodGet:
		b, err := os.ReadFile(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	case http.MethodPut:
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "wrote %d bytes to %s\n", len(b), path)
	default:
		http.Error(w, "GET or PUT", http.StatusMethodNotAllowed)
	}
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
