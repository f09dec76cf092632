package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/db/pubsub"
)

// logPingInterval keeps idle follow sockets alive through proxies.
const logPingInterval = 15 * time.Second

func (a *API) templateVersionLogs(c *gin.Context) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	return a.jobLogs(c, v.JobID)
}

// jobLogs serves a job's logs: a JSON array (a page of at most `limit`
// lines after `after`, by default all of them: the line cap bounds a job's
// logs; Coder has no limit and ignores `before`, as berth does), or with `follow` a websocket
// that streams every line exactly once, in order, and closes when the job
// reaches a terminal state.
func (a *API) jobLogs(c *gin.Context, jobID uuid.UUID) error {
	after := int64(0)
	if raw := c.Query("after"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return httpapi.BadRequest("Query param \"after\" must be an integer.").
				WithValidation("after", "Must be an integer")
		}
		after = n
	}
	limit := db.MaxLogLines
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return httpapi.BadRequest("Query param \"limit\" must be a positive integer.").
				WithValidation("limit", "Must be a positive integer")
		}
		limit = min(n, db.MaxLogLines)
	}
	ctx := c.Request.Context()
	if _, follow := c.GetQuery("follow"); !follow {
		logs, err := a.store.GetJobLogsPage(ctx, jobID, after, limit)
		if err != nil {
			return err
		}
		return httpapi.Write(c, http.StatusOK, convertLogs(logs))
	}
	if !strings.EqualFold(c.GetHeader("Upgrade"), "websocket") {
		return httpapi.Errorf(http.StatusUpgradeRequired, "Failed to accept websocket.").
			WithDetail("Follow the logs over a websocket, or poll without follow using after=<last log id>.")
	}
	release, err := a.streams.acquire(httpmw.ActorFrom(c).User.ID)
	if err != nil {
		return err
	}
	defer release()
	// Subscribe before reading anything, so no line falls between the
	// backlog and the live stream.
	sub, unsubscribe := a.ps.Subscribe(jobID)
	defer unsubscribe()
	job, err := a.store.GetJobByID(ctx, jobID)
	if err != nil {
		return err
	}
	if err := httpapi.LongLived(c); err != nil {
		return err
	}
	conn, err := websocket.Accept(c.Writer, c.Request, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		// Accept has written the response.
		a.log.DebugContext(ctx, "accept log websocket", "err", err)
		return nil
	}
	defer conn.CloseNow()
	ctx = conn.CloseRead(ctx)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(a.opts.ShutdownCtx, cancel)
	defer stop()

	f := &follower{a: a, conn: conn, jobID: jobID, last: after}
	err = f.run(ctx, sub, job.CompletedAt != nil)
	switch {
	case err == nil:
		_ = conn.Close(websocket.StatusNormalClosure, "done")
	case ctx.Err() != nil:
		_ = conn.Close(websocket.StatusGoingAway, "")
	default:
		a.log.WarnContext(c.Request.Context(), "follow job logs", "job_id", jobID, "err", err)
		_ = conn.Close(websocket.StatusInternalError, "internal error")
	}
	return nil
}

type follower struct {
	a     *API
	conn  *websocket.Conn
	jobID uuid.UUID
	last  int64
}

// followPage is how many lines a follower reads at a time, so a
// follower's memory stays small whatever the backlog.
const followPage = 1000

// catchUp sends every stored line after the last one sent.
func (f *follower) catchUp(ctx context.Context) (int, error) {
	sent := 0
	for {
		logs, err := f.a.store.GetJobLogsPage(ctx, f.jobID, f.last, followPage)
		if err != nil {
			return sent, err
		}
		for _, l := range logs {
			if err := wsjson.Write(ctx, f.conn, convertLog(l)); err != nil {
				return sent, err
			}
			f.last = l.ID
			sent++
		}
		if len(logs) < followPage {
			return sent, nil
		}
	}
}

// run streams until the job is terminal (nil) or ctx ends.
func (f *follower) run(ctx context.Context, sub *pubsub.Subscription, done bool) error {
	if _, err := f.catchUp(ctx); err != nil {
		return err
	}
	if done {
		return nil
	}
	ping := time.NewTicker(logPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := f.conn.Ping(pctx)
			cancel()
			if err != nil {
				return ctx.Err()
			}
		case <-sub.C:
			n, err := f.catchUp(ctx)
			if err != nil {
				return err
			}
			if sub.Ended() {
				// End-of-logs is published after the terminal commit: one
				// last read catches anything that committed with it.
				_, err := f.catchUp(ctx)
				return err
			}
			if n == 0 {
				// A poll or reconnect wake-up: the end event may have been
				// lost, so ask the row.
				job, err := f.a.store.GetJobByID(ctx, f.jobID)
				if err != nil {
					return err
				}
				if job.CompletedAt != nil {
					_, err := f.catchUp(ctx)
					return err
				}
			}
		}
	}
}

func convertLog(l db.ProvisionerJobLog) sdk.ProvisionerJobLog {
	return sdk.ProvisionerJobLog{
		ID: l.ID, CreatedAt: l.CreatedAt, Source: sdk.LogSource(l.Source), Level: sdk.LogLevel(l.Level),
		Stage: l.Stage, Output: l.Output,
	}
}

func convertLogs(ls []db.ProvisionerJobLog) []sdk.ProvisionerJobLog {
	out := make([]sdk.ProvisionerJobLog, 0, len(ls))
	for _, l := range ls {
		out = append(out, convertLog(l))
	}
	return out
}
