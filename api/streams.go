package api

import (
	"net/http"
	"sync"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
)

// streamLimiter counts a server's open long-lived streams (workspace
// watches and log follows), per user and in all, so that neither one user
// nor everyone together can hold unbounded goroutines, sockets and
// subscriptions.
type streamLimiter struct {
	perUser, total int

	mu     sync.Mutex
	open   int
	byUser map[uuid.UUID]int
}

func newStreamLimiter(perUser, total int) *streamLimiter {
	return &streamLimiter{perUser: perUser, total: total, byUser: map[uuid.UUID]int{}}
}

// acquire takes a stream slot for user, or answers why not (429); call
// the returned release when the stream ends.
func (l *streamLimiter) acquire(user uuid.UUID) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byUser[user] >= l.perUser {
		return nil, httpapi.Errorf(http.StatusTooManyRequests, "You have too many open streams.").
			WithDetail("At most %d workspace watches and log follows per user are open at once; close one first.", l.perUser)
	}
	if l.open >= l.total {
		return nil, httpapi.Errorf(http.StatusTooManyRequests, "The server has too many open streams.").
			WithDetail("At most %d workspace watches and log follows are open at once; try again later.", l.total)
	}
	l.open++
	l.byUser[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.open--
			if l.byUser[user]--; l.byUser[user] == 0 {
				delete(l.byUser, user)
			}
		})
	}, nil
}
