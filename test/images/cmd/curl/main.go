// Command curl stands in for curl in Berth's agnhost image: upstream's
// agnhost is Alpine with curl, and Kubernetes' lifecycle hook specs run
// `sh -c "curl http://IP:8080/echo?msg=poststart"` as exec hooks. It does
// an HTTP GET of each URL and writes the body to stdout; -s, -S and -f
// are accepted (-f: an HTTP error status fails, exit code 22, as curl's),
// and so are -g (no URL globbing: the stand-in never globs), -q (no
// .curlrc: it reads none), --max-time SEC and --connect-timeout SEC, which
// the networking specs pass (`curl -g -q -s 'http://IP:9080/dial?...'`,
// `curl -g -q -s --max-time 15 --connect-timeout 1 http://IP:8083/hostName`).
// Anything else is refused rather than half done. It is not curl.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var urls []string
	fail := false
	maxTime, connectTimeout := 2*time.Minute, time.Duration(0)
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--max-time" || a == "--connect-timeout":
			if i+1 == len(args) {
				fmt.Fprintf(stderr, "curl (berth stand-in): %s needs a value\n", a)
				return 2
			}
			i++
			sec, err := strconv.ParseFloat(args[i], 64)
			if err != nil || sec <= 0 {
				fmt.Fprintf(stderr, "curl (berth stand-in): %s %q is not a number of seconds\n", a, args[i])
				return 2
			}
			if a == "--max-time" {
				maxTime = time.Duration(sec * float64(time.Second))
			} else {
				connectTimeout = time.Duration(sec * float64(time.Second))
			}
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
	client := &http.Client{Timeout: maxTime}
	if connectTimeout > 0 {
		client.Transport = &http.Transport{DialContext: (&net.Dialer{Timeout: connectTimeout}).DialContext}
	}
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
