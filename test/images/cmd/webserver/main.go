// Command webserver is the small static HTTP server that stands in for
// nginx and httpd in Berth's offline test images.
//
// critest only needs from those images a server that answers 200 on a
// known port, writes a pid file, shows up as "nginx" to pidof, and (for
// the ContainerPID spec) has "master process" in /proc/1/cmdline. This
// program does exactly that and no more: it serves the files of one
// directory, logs one line per request to stdout, and stops cleanly on
// SIGTERM, SIGINT or SIGQUIT. It is not a general web server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

type options struct {
	listen  string
	root    string
	pidFile string
	title   string
	name    string
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	if err := setTitle(opts.title); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", opts.name, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	defer stop()
	if err := serve(ctx, opts, nil, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", opts.name, err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("webserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", ":80", "address to listen on")
	fs.StringVar(&o.root, "root", "/usr/share/nginx/html", "directory whose files are served")
	fs.StringVar(&o.pidFile, "pid-file", "", "write the process ID here once listening")
	fs.StringVar(&o.title, "title", "", "re-exec with this as argv[0], as nginx's master process retitles itself")
	fs.StringVar(&o.name, "name", "webserver", "name used in log lines")
	// nginx's images run "nginx -g 'daemon off;'"; accept and ignore it so
	// the usual command line works.
	fs.String("g", "", "ignored (nginx compatibility)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments %q\n", fs.Args())
		return o, errors.New("unexpected arguments")
	}
	return o, nil
}

// setTitle re-executes the program with title as argv[0] unless it already
// runs under it. The kernel names the process after the executable file,
// so pidof still finds "nginx", while /proc/PID/cmdline shows the title.
func setTitle(title string) error {
	if title == "" || os.Args[0] == title {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding own executable to retitle: %w", err)
	}
	argv := append([]string{title}, os.Args[1:]...)
	if err := syscall.Exec(exe, argv, os.Environ()); err != nil {
		return fmt.Errorf("re-executing %s: %w", exe, err)
	}
	return nil
}

// serve runs the server until ctx ends. If ready is not nil it receives
// the bound address once the listener is up (tests use it with port 0).
func serve(ctx context.Context, o options, ready chan<- string, stdout, stderr io.Writer) error {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.listen, err)
	}
	if o.pidFile != "" {
		if err := os.WriteFile(o.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			ln.Close()
			return fmt.Errorf("writing pid file: %w", err)
		}
		defer os.Remove(o.pidFile)
	}
	fmt.Fprintf(stderr, "%s: serving %s on %s\n", o.name, o.root, ln.Addr())
	if ready != nil {
		ready <- ln.Addr().String()
	}

	files := http.FileServer(http.Dir(o.root))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(stdout, "%s %s %s %q\n", r.RemoteAddr, r.Method, r.URL.Path, r.UserAgent())
			files.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	fmt.Fprintf(stderr, "%s: stopped\n", o.name)
	return nil
}
