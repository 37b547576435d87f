// Command nmeter stands in for busybox's nmeter applet, which Debian's
// busybox (the base of Berth's test images) leaves out, for the one use
// Kubernetes' node e2e suite makes of it: the container lifecycle specs
// stamp their log lines with
//
//	date -u +%FT$(nmeter -d0 '%3t' | head -n1)Z
//
// because busybox's date has no sub-second format. It understands -d MSEC
// (the delay between lines; 0 means none, -1 one line only) and a format
// whose only directive is %[N]t: the local time as HH:MM:SS with N
// decimals (0 to 6), as busybox prints it; %% is a percent sign. Like
// busybox's nmeter it writes until it is killed, or until the reader goes
// away (a closed stdout pipe ends it with SIGPIPE).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	delay, format, err := parseArgs(os.Args[1:])
	if err == nil {
		_, err = expand(format, time.Now())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nmeter:", err)
		fmt.Fprintln(os.Stderr, "usage: nmeter [-d MSEC] FORMAT (only %[N]t is supported)")
		os.Exit(1)
	}
	if err := run(os.Stdout, format, delay, time.Now, time.Sleep); err != nil {
		os.Exit(1)
	}
}

// parseArgs reads busybox's getopt-style arguments: -d MSEC or -dMSEC
// (the suite writes -d0), then the format.
func parseArgs(args []string) (delayMS int, format string, err error) {
	delayMS = 1000
	for len(args) > 0 && strings.HasPrefix(args[0], "-d") {
		v := strings.TrimPrefix(args[0], "-d")
		args = args[1:]
		if v == "" {
			if len(args) == 0 {
				return 0, "", errors.New("-d needs a value")
			}
			v, args = args[0], args[1:]
		}
		if delayMS, err = strconv.Atoi(v); err != nil {
			return 0, "", fmt.Errorf("-d %q: %w", v, err)
		}
	}
	if len(args) != 1 {
		return 0, "", errors.New("want one format argument")
	}
	return delayMS, args[0], nil
}

// run writes one expanded line, then another after every delay.
func run(w io.Writer, format string, delayMS int, now func() time.Time, sleep func(time.Duration)) error {
	for {
		line, err := expand(format, now())
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return err
		}
		if delayMS < 0 {
			return nil
		}
		sleep(time.Duration(delayMS) * time.Millisecond)
	}
}

// expand replaces %[N]t with t as HH:MM:SS and N decimals, and %% with %.
func expand(format string, t time.Time) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		decimals := 0
		if i < len(format) && format[i] >= '0' && format[i] <= '9' {
			decimals = int(format[i] - '0')
			i++
		}
		if i >= len(format) || format[i] != 't' {
			return "", errors.New("only the %[N]t directive is supported")
		}
		if decimals > 6 {
			decimals = 6
		}
		b.WriteString(t.Format("15:04:05"))
		if decimals > 0 {
			frac := fmt.Sprintf("%06d", t.Nanosecond()/1000)
			b.WriteString("." + frac[:decimals])
		}
	}
	return b.String(), nil
}
