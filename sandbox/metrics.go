package sandbox

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stages of RunPodSandbox and StopPodSandbox that are timed.
const (
	stageRun     = "run"         // the whole RunPodSandbox work
	stagePrepare = "netns-files" // pod files, /dev/shm, namespaces, lease and records
	stageCNIAdd  = "cni-add"
	stagePause   = "pause-start" // pause container, rootfs and task
	// The parts of pause-start.
	stagePauseContainer = "pause-container" // containerd container and its rootfs
	stagePauseTask      = "pause-task"      // shim start and runc create
	stagePauseRun       = "pause-run"       // runc start
	stageStop           = "stop"            // the whole StopPodSandbox work
	stageCNIDel         = "cni-del"
	stagePauseStop      = "pause-stop"
)

// metrics times the stages of a sandbox's start and stop, so an operator
// sees which one a slow pod start spends its time in.
type metrics struct {
	stages *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "berth",
		Subsystem: "sandbox",
		Name:      "stage_duration_seconds",
		Help:      "Time spent in each stage of starting and stopping pod sandboxes.",
		Buckets:   prometheus.ExponentialBuckets(0.001, 2, 15), // 1 ms to 16 s
	}, []string{"stage"})}
	if reg != nil {
		reg.MustRegister(m.stages)
	}
	return m
}

// since records the time since start under stage.
func (m *metrics) since(stage string, start time.Time) {
	m.stages.WithLabelValues(stage).Observe(time.Since(start).Seconds())
}
