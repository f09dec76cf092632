package api

import (
	"errors"
	"net/http"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/jobs"
)

// jobError answers a jobs error with Coder's status and message; anything
// else passes through (and renders as a 500).
func jobError(err error) error {
	var (
		deleted  *jobs.DeletedWorkspaceError
		notReady *jobs.VersionNotReadyError
		failed   *jobs.VersionFailedError
		param    *jobs.ParameterError
		exists   *jobs.WorkspaceExistsError
		taken    *jobs.VersionNameTakenError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &deleted):
		return httpapi.Errorf(http.StatusConflict, "Cannot %s a deleted workspace!", deleted.Transition)
	case errors.Is(err, jobs.ErrWorkspaceDormant):
		return httpapi.Errorf(http.StatusForbidden, "You do not have permission to start this workspace.").
			WithDetail("The workspace is dormant: wake it with PUT /workspaces/{workspace}/dormant first.")
	case errors.Is(err, jobs.ErrCustomState):
		return httpapi.Errorf(http.StatusForbidden, "Only template managers may provide custom state")
	case errors.Is(err, jobs.ErrOrphanNotDelete):
		return httpapi.BadRequest("Orphan is only permitted when deleting a workspace.")
	case errors.Is(err, jobs.ErrLogLevel):
		return httpapi.BadRequest("Workspace builds with a custom log level are restricted to administrators only.")
	case errors.Is(err, jobs.ErrVersionNotFound):
		return httpapi.BadRequest("template version does not exist")
	case errors.Is(err, jobs.ErrActiveVersionRequired):
		return httpapi.Errorf(http.StatusForbidden, "%s", err.Error())
	case errors.Is(err, jobs.ErrVersionMismatch):
		return httpapi.BadRequest("template version doesn't match template")
	case errors.Is(err, jobs.ErrPresetNotFound):
		return httpapi.BadRequest("Invalid template version preset.").
			WithValidation("template_version_preset_id", "preset not found for this template version")
	case errors.Is(err, jobs.ErrVersionArchived):
		return httpapi.BadRequest("The provided template version is archived.")
	case errors.As(err, &notReady):
		return httpapi.Errorf(http.StatusNotAcceptable, "The provided template version is %s. Wait for it to complete importing!", notReady.Status)
	case errors.As(err, &failed):
		return httpapi.BadRequest("The provided template version %q has failed to import: %q. You cannot build workspaces with it!", failed.Name, failed.Cause)
	case errors.Is(err, jobs.ErrBuildActive):
		return httpapi.Errorf(http.StatusConflict, "A workspace build is already active.")
	case errors.Is(err, jobs.ErrLatestChanged), errors.Is(err, jobs.ErrWorkspaceBusy):
		return httpapi.Errorf(http.StatusConflict, "The workspace was built again meanwhile.")
	case errors.As(err, &param):
		switch param.Problem {
		case jobs.ParameterImmutable:
			return httpapi.BadRequest("Parameter %q is not mutable, so it can't be updated after creating a workspace.", param.Name)
		case jobs.ParameterRequired:
			return httpapi.BadRequest("Parameter %q is required but not provided", param.Name)
		default:
			return httpapi.BadRequest("Unable to validate parameter %q", param.Name).WithDetail("%s", param.Detail)
		}
	case errors.As(err, &exists):
		return httpapi.Errorf(http.StatusConflict, "Workspace %q already exists.", exists.Name).
			WithValidation("name", "This value is already in use and should be unique.")
	case errors.As(err, &taken):
		return httpapi.Errorf(http.StatusConflict, "A template version with name %q already exists for this template.", taken.Name).
			WithValidation("name", "This value is already in use and should be unique.")
	case errors.Is(err, jobs.ErrImportNotCompleted):
		return httpapi.Errorf(http.StatusTooEarly, "Template version import job hasn't completed!")
	case errors.Is(err, jobs.ErrTemplateNotFound):
		return httpapi.Errorf(http.StatusNotFound, "Template does not exist.")
	case errors.Is(err, jobs.ErrFileNotFound):
		return httpapi.Errorf(http.StatusNotFound, "File not found.")
	case errors.Is(err, jobs.ErrInvalidTTL):
		return httpapi.BadRequest("Invalid Workspace Time to Shutdown.").WithValidation("ttl_ms", cause(err))
	case errors.Is(err, jobs.ErrInvalidSchedule):
		return httpapi.BadRequest("Invalid Autostart Schedule.").WithValidation("autostart_schedule", cause(err))
	case errors.Is(err, jobs.ErrInvalidAutomaticUpdates):
		return httpapi.BadRequest("Validation failed.").WithValidation("automatic_updates", "must be always or never")
	}
	return err
}

// cause is the reason a jobs.ErrInvalid… error wraps.
func cause(err error) string {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := u.Unwrap(); len(errs) > 1 {
			return errs[len(errs)-1].Error()
		}
	}
	return err.Error()
}
