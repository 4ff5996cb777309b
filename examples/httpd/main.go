// Command httpd is the network demo and test application for Linux guests:
// it answers every HTTP request on the given address (default :8080) with a
// greeting naming the guest's address.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
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
