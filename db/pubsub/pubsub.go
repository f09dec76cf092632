// Package pubsub is one server's Postgres notification listener. It fans
// job notifications out to the goroutines that follow job logs (the events
// come from the transactions that write logs and complete jobs, so every
// API replica sees every job's progress), and counts the notices that keys
// or users changed (db.AuthChangedChannel), which invalidate cached keys.
package pubsub

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/berth-dev/berth/db"
)

// pollInterval is the backstop: subscribers are woken at least this often
// even when no notification arrives, so a lost notification delays a
// follower but never strands it.
const pollInterval = 5 * time.Second

// pingPayload is sent by the listener to itself to prove the connection
// still delivers notifications.
const pingPayload = `{"ping":true}`

// Subscription wakes a follower when its job may have new logs or ended.
type Subscription struct {
	// C receives a value (coalesced) whenever the follower should look
	// at the database again.
	C     chan struct{}
	mu    sync.Mutex
	ended bool
}

// Ended reports whether an end-of-logs event arrived for the job.
func (s *Subscription) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

func (s *Subscription) wake(end bool) {
	if end {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
	}
	select {
	case s.C <- struct{}{}:
	default:
	}
}

// PubSub is one server's listener and its subscribers.
type PubSub struct {
	db  *bun.DB
	log *slog.Logger

	mu   sync.Mutex
	subs map[uuid.UUID]map[*Subscription]struct{}

	reconnects atomic.Uint64
	// state is the listener's state in one word: the auth generation
	// shifted left by one, plus 1 while listening, so a reader gets both
	// from one load. Only the listener's goroutine writes it.
	state atomic.Uint64
}

// Listening reports whether the listener is connected and LISTENing now.
func (p *PubSub) Listening() bool { return p.state.Load()&1 == 1 }

// AuthGeneration counts the notices on db.AuthChangedChannel, and the
// times the listener started listening (what it missed while it was not
// is unknown). ok is false while it is not listening: then nothing read
// from the database may be trusted to stay current.
func (p *PubSub) AuthGeneration() (gen uint64, ok bool) {
	s := p.state.Load()
	return s >> 1, s&1 == 1
}

// authChanged moves the auth generation on and sets whether the listener
// is listening.
func (p *PubSub) authChanged(listening bool) {
	s := p.state.Load()&^1 + 2
	if listening {
		s |= 1
	}
	p.state.Store(s)
}

// Reconnects counts the times the listener lost its connection.
func (p *PubSub) Reconnects() uint64 { return p.reconnects.Load() }

// New returns a PubSub; call Run to start listening.
func New(bdb *bun.DB, log *slog.Logger) *PubSub {
	return &PubSub{db: bdb, log: log, subs: map[uuid.UUID]map[*Subscription]struct{}{}}
}

// Subscribe registers interest in a job, or in a workspace (its settings and
// the jobs of its builds). Subscribe before reading the state, so no event
// between the read and the subscription is missed.
func (p *PubSub) Subscribe(jobID uuid.UUID) (*Subscription, func()) {
	s := &Subscription{C: make(chan struct{}, 1)}
	p.mu.Lock()
	m := p.subs[jobID]
	if m == nil {
		m = map[*Subscription]struct{}{}
		p.subs[jobID] = m
	}
	m[s] = struct{}{}
	p.mu.Unlock()
	return s, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.subs[jobID], s)
		if len(p.subs[jobID]) == 0 {
			delete(p.subs, jobID)
		}
	}
}

func (p *PubSub) publish(ev db.JobEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.JobID != uuid.Nil {
		for s := range p.subs[ev.JobID] {
			s.wake(ev.End)
		}
	}
	if ev.WorkspaceID != uuid.Nil {
		for s := range p.subs[ev.WorkspaceID] {
			s.wake(false)
		}
	}
}

func (p *PubSub) wakeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.subs {
		for s := range m {
			s.wake(false)
		}
	}
}

// Run listens until ctx ends, reconnecting as needed.
func (p *PubSub) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := p.listen(ctx)
		p.authChanged(false)
		if err != nil && ctx.Err() == nil {
			p.reconnects.Add(1)
			p.log.Warn("job event listener lost its connection", "err", err)
			p.wakeAll()
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

func (p *PubSub) listen(ctx context.Context) error {
	ln := pgdriver.NewListener(p.db)
	defer ln.Close()
	if err := ln.Listen(ctx, db.JobEventsChannel, db.AuthChangedChannel); err != nil {
		return err
	}
	// LISTEN is only written to the socket; our own ping coming back proves
	// the server applied it. Then followers that subscribed while we were
	// not listening re-read, and miss nothing.
	if _, err := p.db.ExecContext(ctx, "SELECT pg_notify(?, ?)", db.JobEventsChannel, pingPayload); err != nil {
		return err
	}
	listening := false
	lastHeard := time.Now()
	for {
		channel, payload, err := ln.ReceiveTimeout(ctx, pollInterval)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if !isTimeout(err) {
				return err
			}
			p.wakeAll()
			if time.Since(lastHeard) > 3*pollInterval {
				return errSilent
			}
			if _, err := p.db.ExecContext(ctx, "SELECT pg_notify(?, ?)", db.JobEventsChannel, pingPayload); err != nil {
				p.log.Warn("ping job event listener", "err", err)
			}
			continue
		}
		lastHeard = time.Now()
		// Anything heard proves LISTEN took effect: followers that
		// subscribed while it had not re-read, and keys read before are
		// read again.
		if !listening {
			listening = true
			p.authChanged(true)
			p.wakeAll()
		}
		if channel == db.AuthChangedChannel {
			p.authChanged(true)
			continue
		}
		if payload == pingPayload {
			continue
		}
		var ev db.JobEvent
		if err := json.Unmarshal([]byte(payload), &ev); err != nil {
			p.log.Warn("decode job event", "err", err, "payload", payload)
			continue
		}
		p.publish(ev)
	}
}
