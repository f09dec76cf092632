package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/berth-dev/berth/api/httpmw"
)

// watchPingInterval keeps idle event streams alive.
const watchPingInterval = 15 * time.Second

// watchWorkspace streams the workspace as server-sent events: the current
// workspace at once, then again on every change to it or its builds (from
// any API server, through Postgres notifications), with pings in between,
// until the client goes away or the server stops.
func (a *API) watchWorkspace(c *gin.Context) error {
	ws, err := a.workspaceParam(c, true)
	if err != nil {
		return err
	}
	caller := httpmw.ActorFrom(c).User
	sub, unsubscribe := a.ps.Subscribe(ws.ID)
	defer unsubscribe()
	ctx := c.Request.Context()
	first, err := a.convertWorkspace(ctx, caller, ws)
	if err != nil {
		return err
	}
	flusher, ok := c.Writer.(http.Flusher)
	if !ok {
		return fmt.Errorf("response writer cannot flush")
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	c.Writer.WriteHeader(http.StatusOK)

	send := func(event string, v any) error {
		if v == nil {
			_, err := fmt.Fprintf(c.Writer, "event: %s\n\n", event)
			flusher.Flush()
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(c.Writer, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		flusher.Flush()
		return nil
	}
	if err := send("ping", nil); err != nil {
		return nil
	}
	if err := send("data", first); err != nil {
		return nil
	}
	last, _ := json.Marshal(first)
	ping := time.NewTicker(watchPingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.opts.ShutdownCtx.Done():
			return nil
		case <-ping.C:
			if err := send("ping", nil); err != nil {
				return nil
			}
		case <-sub.C:
			cur, err := a.store.GetWorkspaceByID(ctx, ws.ID)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				a.log.WarnContext(ctx, "watch workspace", "err", err)
				continue
			}
			out, err := a.convertWorkspace(ctx, caller, cur)
			if err != nil {
				if ctx.Err() == nil {
					a.log.WarnContext(ctx, "watch workspace", "err", err)
				}
				continue
			}
			b, _ := json.Marshal(out)
			if string(b) == string(last) {
				continue // a wake-up (poll or reconnect) with nothing new
			}
			last = b
			if err := send("data", out); err != nil {
				return nil
			}
		}
	}
}
