package jobs

import (
	"errors"
	"fmt"
)

// Errors a job creation reports. The API maps each to Coder's status and
// message; the lifecycle executor treats the conflicts as "someone else
// got there first".
var (
	// ErrBuildActive: the workspace's latest build has not completed.
	ErrBuildActive = errors.New("a workspace build is already active")
	// ErrLatestChanged: the workspace was built again since the caller
	// looked (BuildRequest.ExpectLatest).
	ErrLatestChanged = errors.New("the workspace was built again meanwhile")
	// ErrWorkspaceBusy: another transaction holds the workspace
	// (BuildRequest.SkipLocked).
	ErrWorkspaceBusy = errors.New("the workspace is being built by another server")
	// ErrWorkspaceDeleted: only a delete may follow a delete; see
	// DeletedWorkspaceError.
	ErrWorkspaceDeleted = errors.New("the workspace is deleted")
	// ErrWorkspaceDormant: a dormant workspace must be woken before it
	// starts.
	ErrWorkspaceDormant = errors.New("the workspace is dormant")
	// ErrCustomState: only template managers may set state or orphan.
	ErrCustomState = errors.New("only template managers may provide custom state")
	// ErrOrphanNotDelete: orphan is only for delete builds.
	ErrOrphanNotDelete = errors.New("orphan is only permitted when deleting a workspace")
	// ErrLogLevel: only administrators may ask for a build log level.
	ErrLogLevel = errors.New("workspace builds with a custom log level are restricted to administrators")
	// ErrVersionNotFound: the requested template version does not exist.
	ErrVersionNotFound = errors.New("template version does not exist")
	// ErrPresetNotFound: the preset is not one of the version's.
	ErrPresetNotFound = errors.New("template version preset not found")
	// ErrVersionArchived: archived versions are not built.
	ErrVersionArchived = errors.New("template version is archived")
	// ErrActiveVersionRequired: the template requires its active version
	// for starts by anyone but template managers.
	ErrActiveVersionRequired = errors.New("cannot use non-active version: template requires active version")
	// ErrVersionMismatch: the version belongs to another template.
	ErrVersionMismatch = errors.New("template version doesn't match template")
	// ErrVersionNotReady: the version's import has not finished; see
	// VersionNotReadyError.
	ErrVersionNotReady = errors.New("template version import has not completed")
	// ErrVersionFailed: the version's import failed or was canceled; see
	// VersionFailedError.
	ErrVersionFailed = errors.New("template version import failed")
	// ErrImportNotCompleted: a dry-run needs a completed import.
	ErrImportNotCompleted = errors.New("template version import job hasn't completed")
	// ErrTemplateNotFound: an import names a template that does not exist
	// in the organization.
	ErrTemplateNotFound = errors.New("template does not exist")
	// ErrFileNotFound: the file does not exist or the initiator may not
	// use it.
	ErrFileNotFound = errors.New("file not found")
	// ErrVersionNameTaken: see VersionNameTakenError.
	ErrVersionNameTaken = errors.New("template version name taken")
	// ErrWorkspaceExists: see WorkspaceExistsError.
	ErrWorkspaceExists = errors.New("workspace name taken")
	// ErrInvalidTTL, ErrInvalidSchedule and ErrInvalidAutomaticUpdates wrap
	// the reason a workspace's settings were refused.
	ErrInvalidTTL              = errors.New("invalid workspace time to shutdown")
	ErrInvalidSchedule         = errors.New("invalid autostart schedule")
	ErrInvalidAutomaticUpdates = errors.New("automatic updates must be always or never")
	// ErrParameter: see ParameterError.
	ErrParameter = errors.New("invalid build parameter")
)

// DeletedWorkspaceError is a start or stop of a deleted workspace.
type DeletedWorkspaceError struct{ Transition string }

func (e *DeletedWorkspaceError) Error() string {
	return "cannot " + e.Transition + " a deleted workspace"
}

// Is makes errors.Is(err, ErrWorkspaceDeleted) true.
func (e *DeletedWorkspaceError) Is(target error) bool { return target == ErrWorkspaceDeleted }

// VersionNotReadyError carries the import job's status.
type VersionNotReadyError struct{ Status string }

func (e *VersionNotReadyError) Error() string { return "template version import is " + e.Status }

// Is makes errors.Is(err, ErrVersionNotReady) true.
func (e *VersionNotReadyError) Is(target error) bool { return target == ErrVersionNotReady }

// VersionFailedError carries the failed import's version name and error.
type VersionFailedError struct{ Name, Cause string }

func (e *VersionFailedError) Error() string {
	return fmt.Sprintf("template version %q failed to import: %s", e.Name, e.Cause)
}

// Is makes errors.Is(err, ErrVersionFailed) true.
func (e *VersionFailedError) Is(target error) bool { return target == ErrVersionFailed }

// VersionNameTakenError: the template already has a version of that name.
type VersionNameTakenError struct{ Name string }

func (e *VersionNameTakenError) Error() string {
	return fmt.Sprintf("template version name %q taken", e.Name)
}

// Is makes errors.Is(err, ErrVersionNameTaken) true.
func (e *VersionNameTakenError) Is(target error) bool { return target == ErrVersionNameTaken }

// WorkspaceExistsError: the owner already has a live workspace of that
// name.
type WorkspaceExistsError struct{ Name string }

func (e *WorkspaceExistsError) Error() string {
	return fmt.Sprintf("workspace %q already exists", e.Name)
}

// Is makes errors.Is(err, ErrWorkspaceExists) true.
func (e *WorkspaceExistsError) Is(target error) bool { return target == ErrWorkspaceExists }

// ParameterProblem says what is wrong with a build parameter.
type ParameterProblem int

// Parameter problems, in the order they are checked.
const (
	ParameterImmutable ParameterProblem = iota + 1
	ParameterRequired
	ParameterInvalid
)

// ParameterError is a build parameter that cannot be resolved; Detail
// explains an invalid value.
type ParameterError struct {
	Name    string
	Problem ParameterProblem
	Detail  string
}

func (e *ParameterError) Error() string {
	switch e.Problem {
	case ParameterImmutable:
		return fmt.Sprintf("parameter %q is not mutable", e.Name)
	case ParameterRequired:
		return fmt.Sprintf("parameter %q is required but not provided", e.Name)
	default:
		return fmt.Sprintf("parameter %q is invalid: %s", e.Name, e.Detail)
	}
}

// Is makes errors.Is(err, ErrParameter) true.
func (e *ParameterError) Is(target error) bool { return target == ErrParameter }
