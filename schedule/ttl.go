package schedule

import (
	"errors"
	"time"
)

// Limits of a workspace's time until shutdown (its TTL).
const (
	MinTTL = time.Minute
	MaxTTL = 30 * 24 * time.Hour
)

// Errors of ValidTTL, with Coder's wording.
var (
	ErrTTLTooShort = errors.New("time until shutdown must be at least one minute")
	ErrTTLTooLong  = errors.New("time until shutdown must be less than 30 days")
)

// ValidTTL checks a workspace TTL as Coder does: nil or 0 means autostop is
// off (nil); otherwise the value is truncated to whole minutes and must lie
// in [MinTTL, MaxTTL].
func ValidTTL(millis *int64) (*int64, error) {
	if millis == nil || *millis == 0 {
		return nil, nil
	}
	if *millis < 0 {
		return nil, ErrTTLTooShort
	}
	if *millis > (MaxTTL + time.Minute).Milliseconds() { // before it can overflow a Duration
		return nil, ErrTTLTooLong
	}
	d := (time.Duration(*millis) * time.Millisecond).Truncate(time.Minute)
	switch {
	case d < MinTTL:
		return nil, ErrTTLTooShort
	case d > MaxTTL:
		return nil, ErrTTLTooLong
	}
	out := d.Milliseconds()
	return &out, nil
}
