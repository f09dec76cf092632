package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Job statuses a finished job is counted under (Coder's job statuses).
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Jobs are the metrics of the provisioner jobs a worker runs.
type Jobs struct {
	daemons      prometheus.Gauge
	current      *prometheus.GaugeVec
	timings      *prometheus.HistogramVec
	builds       *prometheus.CounterVec
	buildTimings *prometheus.HistogramVec
	total        *prometheus.CounterVec
	queueWait    *prometheus.HistogramVec
	run          *prometheus.HistogramVec
	logLines     prometheus.Counter
}

// NewJobs registers the job metrics on reg.
func NewJobs(reg prometheus.Registerer) *Jobs {
	j := &Jobs{
		daemons: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coderd_provisionerd_num_daemons", Help: "The number of provisioner daemons this process runs (a worker runs one).",
		}),
		current: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "coderd_provisionerd_jobs_current", Help: "The number of provisioner jobs running on this worker.",
		}, []string{"provisioner"}),
		timings: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "coderd_provisionerd_job_timings_seconds", Help: "The provisioner job time duration in seconds.",
			Buckets: jobBuckets,
		}, []string{"provisioner", "status"}),
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coderd_workspace_builds_total", Help: "The number of workspaces started, updated, or deleted.",
		}, []string{"workspace_owner", "workspace_name", "template_name", "template_version", "workspace_transition", "status"}),
		buildTimings: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "coderd_provisionerd_workspace_build_timings_seconds", Help: "The time taken for a workspace to build.",
			Buckets: jobBuckets,
		}, []string{"template_name", "template_version", "workspace_transition", "status"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_jobs_total", Help: "Provisioner jobs this worker ended, by type, status and provisioner.",
		}, []string{"type", "status", "provisioner"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "berth_job_queue_wait_seconds", Help: "Time from a job's creation to its start on this worker.",
			Buckets: jobBuckets,
		}, []string{"type", "provisioner"}),
		run: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "berth_job_run_seconds", Help: "Time from a job's start to its end on this worker.",
			Buckets: jobBuckets,
		}, []string{"type", "status", "provisioner"}),
		logLines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_job_log_lines_total", Help: "Job log lines this worker wrote.",
		}),
	}
	reg.MustRegister(j.daemons, j.current, j.timings, j.builds, j.buildTimings, j.total, j.queueWait, j.run, j.logLines)
	return j
}

// DaemonRunning says whether the worker's daemon polls for jobs.
func (j *Jobs) DaemonRunning(up bool) {
	if j == nil {
		return
	}
	if up {
		j.daemons.Set(1)
	} else {
		j.daemons.Set(0)
	}
}

// JobStart describes a job a worker starts running.
type JobStart struct {
	Type, Provisioner string
	// QueueWait is the time from the job's creation until now.
	QueueWait time.Duration
}

// Started counts a job as running.
func (j *Jobs) Started(s JobStart) {
	if j == nil {
		return
	}
	j.current.WithLabelValues(s.Provisioner).Inc()
	j.queueWait.WithLabelValues(s.Type, s.Provisioner).Observe(s.QueueWait.Seconds())
}

// JobEnd describes how a job a worker ran ended.
type JobEnd struct {
	Type, Provisioner string
	// Status is StatusSucceeded, StatusFailed or StatusCanceled; empty when
	// the job did not end here (the worker stopped, another took it over).
	Status string
	Run    time.Duration
	// Build is set for workspace builds.
	Build *Build
}

// Build names a workspace build's workspace and template.
type Build struct {
	Owner, Workspace, Template, TemplateVersion, Transition string
}

// Ended counts a job as no longer running and, when it ended here, records
// its outcome.
func (j *Jobs) Ended(e JobEnd) {
	if j == nil {
		return
	}
	j.current.WithLabelValues(e.Provisioner).Dec()
	if e.Status == "" {
		return
	}
	secs := e.Run.Seconds()
	coder := coderStatus(e.Status)
	j.timings.WithLabelValues(e.Provisioner, coder).Observe(secs)
	j.total.WithLabelValues(e.Type, e.Status, e.Provisioner).Inc()
	j.run.WithLabelValues(e.Type, e.Status, e.Provisioner).Observe(secs)
	if b := e.Build; b != nil {
		j.builds.WithLabelValues(b.Owner, b.Workspace, b.Template, b.TemplateVersion, b.Transition, coder).Inc()
		j.buildTimings.WithLabelValues(b.Template, b.TemplateVersion, b.Transition, coder).Observe(secs)
	}
}

// LogLines counts log lines written.
func (j *Jobs) LogLines(n int) {
	if j == nil || n <= 0 {
		return
	}
	j.logLines.Add(float64(n))
}

// coderStatus is the status label Coder's provisioner metrics use:
// "success" or "failed" (a canceled job did not succeed).
func coderStatus(status string) string {
	if status == StatusSucceeded {
		return "success"
	}
	return "failed"
}
