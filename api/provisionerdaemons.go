package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

// daemonStatus is offline when unseen for the online window, busy while
// it holds an active job, idle otherwise.
func daemonStatus(d *db.ProvisionerDaemon, busy bool, now time.Time) sdk.ProvisionerDaemonStatus {
	switch {
	case now.Sub(d.LastSeenAt) > db.DaemonOnlineWindow:
		return "offline"
	case busy:
		return "busy"
	default:
		return "idle"
	}
}

func (a *API) provisionerDaemons(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	if !httpmw.ActorFrom(c).IsOwner() {
		return httpapi.NotFound()
	}
	bad := httpapi.BadRequest("Invalid query parameters.")
	limit, ids, tags, offline, statuses, maxAge := 50, []uuid.UUID{}, map[string]string{}, false, []string{}, time.Duration(0)
	for key, vals := range c.Request.URL.Query() {
		v := vals[len(vals)-1]
		switch key {
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				bad.WithValidation(key, "must be a non-negative integer")
			}
			limit = n
		case "ids":
			for _, raw := range strings.Split(v, ",") {
				id, err := uuid.Parse(strings.TrimSpace(raw))
				if err != nil {
					bad.WithValidation(key, "must be a comma-separated list of UUIDs")
					break
				}
				ids = append(ids, id)
			}
		case "tags":
			if err := json.Unmarshal([]byte(v), &tags); err != nil {
				bad.WithValidation(key, "must be a JSON object of strings")
			}
		case "offline":
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad.WithValidation(key, "must be a boolean")
			}
			offline = b
		case "status":
			for _, s := range strings.Split(v, ",") {
				s = strings.ToLower(strings.TrimSpace(s))
				if s != "offline" && s != "idle" && s != "busy" {
					bad.WithValidation(key, "must be a comma-separated list of offline, idle and busy")
					break
				}
				statuses = append(statuses, s)
			}
		case "max_age":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				bad.WithValidation(key, "must be a duration such as 24h")
			}
			maxAge = d
		default:
			bad.WithValidation(key, "is not a valid query parameter")
		}
	}
	if len(bad.Response.Validations) > 0 {
		return bad
	}
	ctx := c.Request.Context()
	daemons, err := a.store.ListDaemons(ctx, org.ID)
	if err != nil {
		return err
	}
	daemonIDs := make([]uuid.UUID, 0, len(daemons))
	for _, d := range daemons {
		daemonIDs = append(daemonIDs, d.ID)
	}
	jobs, err := a.store.GetDaemonJobs(ctx, daemonIDs)
	if err != nil {
		return err
	}
	current, previous := map[uuid.UUID]*sdk.ProvisionerDaemonJob{}, map[uuid.UUID]*sdk.ProvisionerDaemonJob{}
	for _, j := range jobs {
		pj := &sdk.ProvisionerDaemonJob{ID: j.ID, Status: sdk.ProvisionerJobStatus(j.Status), TemplateName: j.TemplateName,
			TemplateIcon: j.TemplateIcon, TemplateDisplayName: j.TemplateDisplayName}
		if j.Current {
			current[j.WorkerID] = pj
		} else {
			previous[j.WorkerID] = pj
		}
	}
	now := db.Now()
	out := []sdk.ProvisionerDaemon{}
	for _, d := range daemons {
		status := daemonStatus(d, current[d.ID] != nil, now)
		switch {
		case len(ids) > 0 && !slices.Contains(ids, d.ID),
			!tagsContain(d.Tags, tags),
			len(statuses) > 0 && !slices.Contains(statuses, string(status)),
			len(statuses) == 0 && len(ids) == 0 && !offline && status == "offline",
			maxAge > 0 && now.Sub(d.LastSeenAt) > maxAge:
			continue
		}
		if limit > 0 && len(out) >= limit {
			break
		}
		provs := make([]sdk.ProvisionerType, 0, len(d.Provisioners))
		for _, p := range d.Provisioners {
			provs = append(provs, sdk.ProvisionerType(p))
		}
		seen := d.LastSeenAt
		out = append(out, sdk.ProvisionerDaemon{
			ID: d.ID, OrganizationID: d.OrganizationID, CreatedAt: d.CreatedAt, LastSeenAt: &seen, Name: d.Name,
			Version: d.Version, APIVersion: d.APIVersion, Provisioners: provs, Tags: nonNilMap(d.Tags),
			KeyName: "built-in", Status: status, CurrentJob: current[d.ID], PreviousJob: previous[d.ID],
		})
	}
	return httpapi.Write(c, http.StatusOK, out)
}

func tagsContain(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
