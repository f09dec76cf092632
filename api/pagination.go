package api

import (
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
)

// pagination is the parsed after_id/limit/offset of a list request.
type pagination struct {
	AfterID uuid.UUID
	Limit   int // 0: no limit
	Offset  int
}

const invalidQuery = "Query parameters have invalid values."

// checkQueryKeys answers 400 for a query key the endpoint does not know.
func checkQueryKeys(c *gin.Context, allowed ...string) error {
	for k := range c.Request.URL.Query() {
		if !slices.Contains(allowed, k) {
			return httpapi.BadRequest(invalidQuery).WithValidation(k, "Query param \""+k+"\" is not a valid query param.")
		}
	}
	return nil
}

// parsePagination reads after_id, limit and offset.
func parsePagination(c *gin.Context) (pagination, error) {
	var p pagination
	he := httpapi.BadRequest(invalidQuery)
	for _, f := range []struct {
		key string
		dst *int
	}{{"limit", &p.Limit}, {"offset", &p.Offset}} {
		raw := c.Query(f.key)
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			he.WithValidation(f.key, "Query param \""+f.key+"\" must be a valid non-negative integer.")
			continue
		}
		*f.dst = n
	}
	if raw := c.Query("after_id"); raw != "" {
		id, err := uuid.Parse(raw)
		if err != nil {
			he.WithValidation("after_id", "Query param \"after_id\" must be a valid UUID.")
		}
		p.AfterID = id
	}
	if len(he.Response.Validations) > 0 {
		return p, he
	}
	return p, nil
}

func afterIDMissing(id uuid.UUID) error {
	return httpapi.BadRequest("Record at \"after_id\" (%q) does not exist.", id.String())
}
