package api

import (
	"context"
	"crypto/rand"
	"errors"
	"math"
	"net/http"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

// SessionLifetime is how long a login session lasts.
const SessionLifetime = 24 * time.Hour

func (a *API) buildInfo(c *gin.Context) error {
	u := a.opts.AccessURL.String()
	return httpapi.Write(c, http.StatusOK, sdk.BuildInfoResponse{
		ExternalURL:           "https://github.com/berth-dev/berth",
		Version:               a.opts.BuildVersion,
		DashboardURL:          u,
		AgentAPIVersion:       "2.0",
		ProvisionerAPIVersion: "1.0",
		DeploymentID:          a.opts.DeploymentID,
	})
}

func (a *API) authMethods(c *gin.Context) error {
	return httpapi.Write(c, http.StatusOK, sdk.AuthMethods{Password: sdk.AuthMethod{Enabled: true}})
}

func (a *API) firstUserExists(c *gin.Context) error {
	n, err := a.store.CountUsers(c.Request.Context())
	if err != nil {
		return err
	}
	if n == 0 {
		return httpapi.Errorf(http.StatusNotFound, "The initial user has not been created!")
	}
	return httpapi.WriteMessage(c, http.StatusOK, "The initial user has already been created!")
}

// firstUserLock serialises concurrent first-user requests.
const firstUserLock int64 = 0x62657274686669

func (a *API) createFirstUser(c *gin.Context) error {
	var req sdk.CreateFirstUserRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	// The cheap checks come first, as in Coder: once a user exists this
	// unauthenticated route answers 409 without spending a bcrypt hash.
	ctx := c.Request.Context()
	n, err := a.store.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return errFirstUserExists()
	}
	if err := validatePassword(req.Password); err != nil {
		return httpapi.BadRequest("Password is invalid").WithValidation("password", err.Error())
	}
	hash, err := hashPassword(req.Password)
	if err != nil {
		return err
	}
	var resp sdk.CreateFirstUserResponse
	err = a.store.InTx(ctx, func(tx *db.Store) error {
		if _, err := tx.DB().ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", firstUserLock); err != nil {
			return err
		}
		n, err := tx.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return errFirstUserExists()
		}
		org, err := tx.GetDefaultOrganization(ctx)
		if err != nil {
			return err
		}
		u, err := insertUser(ctx, tx, req.Email, req.Username, req.Name, hash, []string{db.RoleOwner}, []uuid.UUID{org.ID},
			db.UserStatusActive, string(sdk.LoginTypePassword))
		if err != nil {
			return err
		}
		resp = sdk.CreateFirstUserResponse{UserID: u.ID, OrganizationID: org.ID}
		return nil
	})
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusCreated, resp)
}

func errFirstUserExists() error {
	return httpapi.Errorf(http.StatusConflict, "The initial user has already been created.")
}

func insertUser(ctx context.Context, tx *db.Store, email, username, name string, hash []byte, roles []string, orgs []uuid.UUID, status, loginType string) (*db.User, error) {
	now := db.Now()
	u := &db.User{
		ID: uuid.New(), Email: email, Username: username, Name: name, HashedPassword: hash,
		Status: status, LoginType: loginType, RBACRoles: roles,
		CreatedAt: now, UpdatedAt: now, LastSeenAt: now,
	}
	if err := tx.InsertUser(ctx, u); err != nil {
		var ce *db.ConflictError
		if errors.As(err, &ce) {
			return nil, httpapi.Errorf(http.StatusConflict, "User already exists.")
		}
		return nil, err
	}
	for _, o := range orgs {
		if err := tx.InsertOrganizationMember(ctx, &db.OrganizationMember{
			UserID: u.ID, OrganizationID: o, Roles: []string{}, CreatedAt: now, UpdatedAt: now,
		}); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// validatePassword requires at most 64 characters and an estimated entropy
// of at least 52 bits (character-set size to the power of the length, with
// repeated characters counted once).
func validatePassword(p string) error {
	if len(p) > 64 {
		return errors.New("password must be at most 64 characters")
	}
	var lower, upper, digit, special, other bool
	seen := map[rune]bool{}
	for _, r := range p {
		seen[r] = true
		switch {
		case unicode.IsLower(r) && r < unicode.MaxASCII:
			lower = true
		case unicode.IsUpper(r) && r < unicode.MaxASCII:
			upper = true
		case unicode.IsDigit(r) && r < unicode.MaxASCII:
			digit = true
		case r < unicode.MaxASCII && unicode.IsPrint(r):
			special = true
		default:
			other = true
		}
	}
	base := 0
	for _, set := range []struct {
		on   bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {special, 33}, {other, 1}} {
		if set.on {
			base += set.size
		}
	}
	// Long runs of one character add little: count each distinct character
	// once plus a small share of the rest.
	length := float64(len(seen)) + float64(len([]rune(p))-len(seen))*0.25
	if base == 0 || math.Log2(float64(base))*length < 52 {
		return errors.New("insecure password, try including more special characters, using uppercase letters, using numbers or using a longer password")
	}
	return nil
}

func hashPassword(p string) ([]byte, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	return h, nil
}

func (a *API) login(c *gin.Context) error {
	var req sdk.LoginWithPasswordRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	u, err := a.store.GetUserByEmail(ctx, req.Email)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	bad := httpapi.Errorf(http.StatusUnauthorized, "Incorrect email or password.")
	if err != nil {
		// Spend the same time as a real comparison.
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(req.Password))
		return bad
	}
	if bcrypt.CompareHashAndPassword(u.HashedPassword, []byte(req.Password)) != nil {
		return bad
	}
	if u.Status == string(sdk.UserStatusSuspended) {
		return httpapi.Errorf(http.StatusUnauthorized, "Your account is suspended. Contact an admin to reactivate your account.")
	}
	if u.Status == db.UserStatusDormant {
		if err := a.store.ActivateDormantUser(ctx, u.ID, db.Now()); err != nil {
			return err
		}
	}
	token, key, err := newAPIKey(u.ID, string(sdk.LoginTypePassword), SessionLifetime)
	if err != nil {
		return err
	}
	if err := a.store.InsertAPIKey(ctx, key); err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: httpmw.SessionTokenCookie, Value: token, Path: "/", HttpOnly: true,
		Expires: key.ExpiresAt, SameSite: http.SameSiteLaxMode, Secure: a.secureCookies(),
	})
	return httpapi.Write(c, http.StatusCreated, sdk.LoginWithPasswordResponse{SessionToken: token})
}

// secureCookies reports whether session cookies carry Secure: when the
// deployment is reached over https, so the browser never sends the token
// in clear.
func (a *API) secureCookies() bool { return a.opts.AccessURL.Scheme == "https" }

// dummyHash is a bcrypt hash (default cost) of a password nobody has; a
// login for an unknown email compares against it so it takes as long as a
// real one.
var dummyHash = []byte("$2a$10$v4Qpkqidwp8rKKzvr0fJdOLXZ59jkKsLI/g7RKbJfZBGtc57JT4UG")

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return string(b)
}

// newAPIKey makes a token "<10-char id>-<22-char secret>" and its row.
func newAPIKey(userID uuid.UUID, loginType string, lifetime time.Duration) (string, *db.APIKey, error) {
	id, secret := randomString(10), randomString(22)
	now := db.Now()
	return id + "-" + secret, &db.APIKey{
		ID: id, HashedSecret: httpmw.HashSecret(secret), UserID: userID, LoginType: loginType,
		LifetimeSeconds: int64(lifetime / time.Second), CreatedAt: now, UpdatedAt: now,
		LastUsed: now, ExpiresAt: now.Add(lifetime),
	}, nil
}

func (a *API) logout(c *gin.Context) error {
	if err := a.store.DeleteAPIKey(c.Request.Context(), httpmw.ActorFrom(c).KeyID); err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: httpmw.SessionTokenCookie, Value: "", Path: "/", MaxAge: -1, Secure: a.secureCookies()})
	return httpapi.WriteMessage(c, http.StatusOK, "Logged out!")
}

func (a *API) createUser(c *gin.Context) error {
	if !canManageUsers(httpmw.ActorFrom(c)) {
		return httpapi.Errorf(http.StatusForbidden, "You are not authorized to create users.")
	}
	var req sdk.CreateUserRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	if req.LoginType == "" {
		req.LoginType = sdk.LoginTypePassword
	}
	var hash []byte
	switch req.LoginType {
	case sdk.LoginTypePassword:
		if err := validatePassword(req.Password); err != nil {
			return httpapi.BadRequest("Password is invalid").WithValidation("password", err.Error())
		}
		h, err := hashPassword(req.Password)
		if err != nil {
			return err
		}
		hash = h
	case sdk.LoginTypeNone:
		if req.Password != "" {
			return httpapi.BadRequest("Password cannot be set for non-password (%q) authentication.", req.LoginType)
		}
		hash = []byte{}
	case sdk.LoginTypeOIDC:
		return httpapi.BadRequest("You must configure OIDC before creating OIDC users.")
	default:
		return httpapi.BadRequest("Unsupported login type %q for manually creating new users.", req.LoginType)
	}
	ctx := c.Request.Context()
	orgs := req.OrganizationIDs
	if len(orgs) == 0 {
		def, err := a.store.GetDefaultOrganization(ctx)
		if err != nil {
			return err
		}
		orgs = []uuid.UUID{def.ID}
	}
	var u *db.User
	err := a.store.InTx(ctx, func(tx *db.Store) error {
		for _, o := range orgs {
			if _, err := tx.GetOrganizationByID(ctx, o); err != nil {
				if errors.Is(err, db.ErrNotFound) {
					return httpapi.Errorf(http.StatusNotFound, "Organization does not exist with the provided id %q.", o)
				}
				return err
			}
		}
		var err error
		// Users made by someone else stay dormant until they first sign in.
		u, err = insertUser(ctx, tx, req.Email, req.Username, req.Name, hash, []string{}, orgs,
			db.UserStatusDormant, string(req.LoginType))
		return err
	})
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusCreated, convertUser(u, orgs))
}

func (a *API) user(c *gin.Context) error {
	u, err := a.userParam(c)
	if err != nil {
		return err
	}
	orgs, err := a.store.GetOrganizationIDsByUser(c.Request.Context(), u.ID)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertUser(u, orgs))
}

func (a *API) userOrganizations(c *gin.Context) error {
	u, err := a.userParam(c)
	if err != nil {
		return err
	}
	orgs, err := a.store.GetOrganizationsByUser(c.Request.Context(), u.ID)
	if err != nil {
		return err
	}
	out := make([]sdk.Organization, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, convertOrganization(o))
	}
	return httpapi.Write(c, http.StatusOK, out)
}

func (a *API) createAPIKey(c *gin.Context) error {
	u, err := a.tokenUserParam(c)
	if err != nil {
		return err
	}
	token, key, err := newAPIKey(u.ID, string(sdk.LoginTypeToken), 30*24*time.Hour)
	if err != nil {
		return err
	}
	if err := a.store.InsertAPIKey(c.Request.Context(), key); err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusCreated, sdk.GenerateAPIKeyResponse{Key: token})
}

func (a *API) organization(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertOrganization(org))
}
