package conntrack

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
)

// Table deletes the entries of IPs and UDP host ports (*Cleaner).
type Table interface {
	Purge(ips []netip.Addr, udpHostPorts []HostPort) error
}

// Purger purges in the background, so a pod's teardown does not wait for
// it: every purge walks the kernel's table, which took a fifth of
// StopPodSandbox when purges were dumps (12 ms with 262144 buckets,
// however few entries). Requests that arrive while a purge runs are
// merged into the next one, so sixteen pods torn down at once cost about
// what one does.
//
// A purge starts as soon as it is asked for, right after the pod's CNI DEL.
// Failures are logged: stale entries expire on their own.
type Purger struct {
	table Table
	log   *slog.Logger

	mu      sync.Mutex
	ips     []netip.Addr
	ports   []HostPort
	queued  uint64 // requests taken so far
	purged  uint64 // requests whose purge has run
	waiters []waiter

	kick   chan struct{}
	stop   chan struct{}
	exited chan struct{}
}

type waiter struct {
	upTo uint64
	done chan struct{}
}

// NewPurger starts a Purger on table.
func NewPurger(table Table, log *slog.Logger) *Purger {
	p := &Purger{
		table: table, log: log,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{}),
	}
	go p.run()
	return p
}

// Purge asks for the entries of ips, and the UDP entries of udpHostPorts,
// to be deleted, and returns at once.
func (p *Purger) Purge(ips []netip.Addr, udpHostPorts []HostPort) {
	if len(ips) == 0 && len(udpHostPorts) == 0 {
		return
	}
	p.mu.Lock()
	p.ips = append(p.ips, ips...)
	p.ports = append(p.ports, udpHostPorts...)
	p.queued++
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default: // a purge is already due, and will take these too
	}
}

// Flush waits until every purge asked for before it has run, or ctx ends.
func (p *Purger) Flush(ctx context.Context) error {
	p.mu.Lock()
	if p.purged >= p.queued {
		p.mu.Unlock()
		return nil
	}
	w := waiter{upTo: p.queued, done: make(chan struct{})}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close runs the purges still asked for and stops, giving up when ctx
// ends.
func (p *Purger) Close(ctx context.Context) error {
	close(p.stop)
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Purger) run() {
	defer close(p.exited)
	for {
		select {
		case <-p.kick:
			p.purgeQueued()
		case <-p.stop:
			p.purgeQueued()
			return
		}
	}
}

func (p *Purger) purgeQueued() {
	p.mu.Lock()
	ips, ports, upTo := p.ips, p.ports, p.queued
	p.ips, p.ports = nil, nil
	p.mu.Unlock()
	if len(ips) > 0 || len(ports) > 0 {
		if err := p.table.Purge(ips, ports); err != nil {
			p.log.Warn("conntrack purge failed; the entries will expire on their own", "ips", ips, "udpHostPorts", len(ports), "error", err)
		} else {
			p.log.Debug("conntrack entries purged", "ips", ips, "udpHostPorts", len(ports))
		}
	}
	p.mu.Lock()
	p.purged = upTo
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		if w.upTo <= upTo {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	p.waiters = kept
	p.mu.Unlock()
}
