package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

// archiveTemplateVersions serves POST /templates/{template}/versions/archive:
// it archives the unused versions whose import failed, or every unused
// version with "all".
func (a *API) archiveTemplateVersions(c *gin.Context) error {
	t, err := a.templateParam(c)
	if err != nil {
		return err
	}
	if err := requireTemplateAdmin(c); err != nil {
		return err
	}
	var req sdk.ArchiveTemplateVersionsRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	ids, err := a.store.ArchiveTemplateVersions(c.Request.Context(), t.ID, uuid.Nil, !req.All)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, sdk.ArchiveTemplateVersionsResponse{TemplateID: t.ID, ArchivedIDs: ids})
}

func (a *API) archiveTemplateVersion(c *gin.Context) error   { return a.setArchived(c, true) }
func (a *API) unarchiveTemplateVersion(c *gin.Context) error { return a.setArchived(c, false) }

// setArchived archives one version (if nothing uses it) or unarchives it.
// Coder answers success with a JSON string, and so does berth.
func (a *API) setArchived(c *gin.Context, archive bool) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	if err := requireTemplateAdmin(c); err != nil {
		return err
	}
	verb := "archived"
	if !archive {
		verb = "unarchived"
	}
	if v.Archived == archive {
		return httpapi.BadRequest("Template version already %s", verb)
	}
	if !v.TemplateID.Valid {
		return httpapi.BadRequest("Cannot archive template versions not associate with a template.")
	}
	ctx := c.Request.Context()
	if archive {
		ids, err := a.store.ArchiveTemplateVersions(ctx, v.TemplateID.UUID, v.ID, false)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return httpapi.BadRequest("Unable to archive specified version, the version is likely in use by a workspace or currently set to the active version")
		}
	} else if err := a.store.UnarchiveTemplateVersion(ctx, v.ID); err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, fmt.Sprintf("template version %q %s", v.ID.String(), verb))
}

// templateVersionByOrgTemplateAndName serves
// GET /organizations/{org}/templates/{templatename}/versions/{templateversionname}.
func (a *API) templateVersionByOrgTemplateAndName(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	t, err := a.store.GetTemplateByOrgAndName(ctx, org.ID, c.Param("templatename"))
	if err != nil {
		return notFoundAs(err)
	}
	name := c.Param("templateversionname")
	v, err := a.store.GetTemplateVersionByTemplateAndName(ctx, t.ID, name)
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "No template version found by name %q.", name)
	}
	if err != nil {
		return err
	}
	job, err := a.store.GetJobByID(ctx, v.JobID)
	if err != nil {
		return err
	}
	out, err := a.convertTemplateVersionFull(c, v, job, t, nil, false)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, out)
}
