package metrics

import "github.com/prometheus/client_golang/prometheus"

// Control are the metrics of a server's background loops: the reaper, the
// reconciler and the job event listener.
type Control struct {
	reaper     *prometheus.CounterVec
	reconciler *prometheus.CounterVec
	workerLost prometheus.Counter
}

// Reaper actions.
const (
	ReapPending      = "pending"       // a job no worker took ended failed
	ReapHung         = "hung"          // a started job whose worker went silent ended failed
	ReapWorkerLost   = "worker_lost"   // a running build of a lost worker ended failed
	ReapCanceledLost = "canceled_lost" // a canceled job of a lost worker ended canceled
)

// Reconciler actions.
const (
	ReconcileStart  = "start_workflow" // started the workflow of a job no worker dispatched
	ReconcileCancel = "resend_cancel"  // re-sent a cancel to a job's workflow
)

// NewControl registers the control-loop metrics on reg.
func NewControl(reg prometheus.Registerer) *Control {
	c := &Control{
		reaper: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_reaper_actions_total", Help: "Jobs the reaper ended, by why.",
		}, []string{"action"}),
		reconciler: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_reconciler_actions_total", Help: "Workflow starts and cancels the reconciler sent.",
		}, []string{"action"}),
		workerLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_jobs_worker_lost_total", Help: "Jobs failed because the worker running them was lost.",
		}),
	}
	for _, a := range []string{ReapPending, ReapHung, ReapWorkerLost, ReapCanceledLost} {
		c.reaper.WithLabelValues(a)
	}
	for _, a := range []string{ReconcileStart, ReconcileCancel} {
		c.reconciler.WithLabelValues(a)
	}
	reg.MustRegister(c.reaper, c.reconciler, c.workerLost)
	return c
}

// Reaped counts a job the reaper ended.
func (c *Control) Reaped(action string) {
	if c == nil {
		return
	}
	c.reaper.WithLabelValues(action).Inc()
	if action == ReapWorkerLost {
		c.workerLost.Inc()
	}
}

// Reconciled counts a reconciler action.
func (c *Control) Reconciled(action string) {
	if c == nil {
		return
	}
	c.reconciler.WithLabelValues(action).Inc()
}

// Listener exports the job event listener's state: reconnects (a
// monotonic count the listener keeps) and whether it listens now.
func Listener(reg prometheus.Registerer, reconnects func() uint64, listening func() bool) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "berth_listener_reconnects_total", Help: "Times the job event listener (LISTEN) lost its connection and reconnected.",
		}, func() float64 { return float64(reconnects()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "berth_listener_up", Help: "1 while the job event listener (LISTEN) is connected.",
		}, func() float64 {
			if listening() {
				return 1
			}
			return 0
		}),
	)
}
