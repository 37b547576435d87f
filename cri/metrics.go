package cri

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
)

// metrics times every RPC by method and outcome.
type metrics struct {
	latency *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "berth",
			Subsystem: "cri",
			Name:      "request_duration_seconds",
			Help:      "Latency of CRI requests by method and gRPC code.",
			// 1 ms to about 65 s: List calls on one end, image pulls on the other.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 17),
		}, []string{"method", "code"}),
	}
	if reg != nil {
		reg.MustRegister(m.latency)
	}
	return m
}

func (m *metrics) observe(method string, code codes.Code, d time.Duration) {
	m.latency.WithLabelValues(method, code.String()).Observe(d.Seconds())
}
