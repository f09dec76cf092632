package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/schedule"
)

// A user's quiet hours (Coder Enterprise's GET and PUT
// /users/{user}/quiet-hours): the daily time a template's autostop
// requirement stops their workspaces (max_deadline).

func (a *API) userQuietHours(c *gin.Context) error {
	u, err := a.userParam(c)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, a.quietHoursResponse(u))
}

func (a *API) putUserQuietHours(c *gin.Context) error {
	u, err := a.userParam(c)
	if err != nil {
		return err
	}
	var req sdk.UpdateUserQuietHoursScheduleRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	spec := ""
	if req.Schedule != "" {
		s, err := schedule.Daily(req.Schedule)
		if err == nil {
			if _, ok := s.TimeOfDay(); !ok {
				err = errors.New("quiet hours must start at one time of day")
			}
		}
		if err != nil {
			return httpapi.BadRequest("Invalid quiet hours schedule.").WithValidation("schedule", err.Error())
		}
		spec = s.String()
	}
	if err := a.store.UpdateUserQuietHours(c.Request.Context(), u.ID, spec); err != nil {
		return notFoundAs(err)
	}
	u.QuietHoursSchedule = spec
	return httpapi.Write(c, http.StatusOK, a.quietHoursResponse(u))
}

func (a *API) quietHoursResponse(u *db.User) sdk.UserQuietHoursScheduleResponse {
	s := a.jobs.QuietHours(u)
	tod, _ := s.TimeOfDay()
	return sdk.UserQuietHoursScheduleResponse{
		RawSchedule: s.String(), UserSet: u.QuietHoursSchedule != "", UserCanSet: true,
		Time: tod, Timezone: s.Location().String(), Next: s.Next(db.Now()).UTC(),
	}
}
