package httpmw

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-chi/httprate"

	"github.com/berth-dev/berth/api/httpapi"
)

// RateLimit allows n requests per window per caller: the user once
// Authenticate has run, else the client's IP. Past that it answers 429 with
// Coder's message. n <= 0 disables it. The counter is a sliding window kept
// in memory (one map lookup under a mutex per request), per server replica.
func RateLimit(n int, window time.Duration) gin.HandlerFunc {
	if n <= 0 {
		return func(c *gin.Context) { c.Next() }
	}
	l := httprate.NewRateLimiter(n, window)
	msg := fmt.Sprintf("You've been rate limited for sending more than %v requests in %v.", n, window)
	return func(c *gin.Context) {
		if l.OnLimit(c.Writer, c.Request, rateLimitKey(c)) {
			c.Abort()
			_ = httpapi.WriteMessage(c, http.StatusTooManyRequests, msg)
			return
		}
		c.Next()
	}
}

func rateLimitKey(c *gin.Context) string {
	if v, ok := c.Get(actorKey); ok {
		return "user:" + v.(*Actor).User.ID.String()
	}
	return "ip:" + c.ClientIP()
}
