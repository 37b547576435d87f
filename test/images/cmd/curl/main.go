// Command curl stands in for curl in Berth's agnhost image: upstream's
// agnhost is Alpine with curl, and Kubernetes' lifecycle hook specs run
// `sh -c "curl http://IP:8080/echo?msg=poststart"` as exec hooks. It does
// an HTTP GET of each URL and writes the body to stdout; -s, -S and -f
// are accepted (-f: an HTTP error status fails, exit code 22, as curl's),
// and so are -g (no URL globbing: the stand-in never globs) and -q (no
// .curlrc: it reads none), which the networking specs' dial checks pass
// (`curl -g -q -s 'http://IP:9080/dial?...'`). Anything else is refused
// rather than half done. It is not curl.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var urls []string
	fail := false
	for _, a := range args {
		switch {
		case a == "--fail":
			fail = true
		case a == "--silent" || a == "--show-error":
		case len(a) > 1 && a[0] == '-' && strings.Trim(a[1:], "sSfgq") == "":
			// Short flags, alone or together (-fsS, -g -q -s).
			fail = fail || strings.Contains(a, "f")
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(stderr, "curl (berth stand-in): option %s is not supported\n", a)
			return 2
		default:
			urls = append(urls, a)
		}
	}
	if len(urls) == 0 {
		fmt.Fprintln(stderr, "curl (berth stand-in): no URL given")
		return 2
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	for _, u := range urls {
		if err := get(client, u, fail, stdout); err != nil {
			fmt.Fprintf(stderr, "curl: %v\n", err)
			var he httpError
			if errors.As(err, &he) {
				return 22
			}
			return 7
		}
	}
	return 0
}

type httpError int

func (e httpError) Error() string {
	return fmt.Sprintf("(22) The requested URL returned error: %d", int(e))
}

func get(client *http.Client, url string, fail bool, stdout io.Writer) error {
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if fail && resp.StatusCode >= 400 {
		return httpError(resp.StatusCode)
	}
	_, err = io.Copy(stdout, resp.Body)
	return err
}
