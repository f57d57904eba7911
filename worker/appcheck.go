package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/githubapp"
)

// AppCheckTimeout bounds the start-up check of the App's id and key. A GitHub that does not
// answer within it is logged and does not hold the start, because an outage must not stop
// a deploy.
const AppCheckTimeout = 5 * time.Second

// AppCredentialsError reports that GitHub refused the App's own token at start-up: GET /app
// answered 401 or 404. The App id and the key do not go together, or the App does not exist
// there.
type AppCredentialsError struct {
	// AppID is GITHUB_APP_ID's value.
	AppID int64
	// KeyVariable is the variable the key came from: GITHUB_APP_PRIVATE_KEY or
	// GITHUB_APP_PRIVATE_KEY_FILE.
	KeyVariable string
	// Response is GitHub's answer.
	Response *github.ErrorResponse
}

// Error names the variables to check and what GitHub answered.
func (e *AppCredentialsError) Error() string {
	status := 0
	if e.Response.Response != nil {
		status = e.Response.Response.StatusCode
	}
	return fmt.Sprintf("GITHUB_APP_ID %d or %s: GitHub refused the App's token: GET /app answered %d %s (%q); check that the id is the App's and the key one of its current private keys",
		e.AppID, e.KeyVariable, status, http.StatusText(status), e.Response.Message)
}

// Unwrap returns GitHub's answer.
func (e *AppCredentialsError) Unwrap() error { return e.Response }

// checkApp asks GitHub once who the App is, as the App itself, which spends no
// installation's budget. A 401 or 404 is an *AppCredentialsError. No answer within
// AppCheckTimeout, or another failure, is logged and let through.
func checkApp(ctx context.Context, clients *githubapp.Factory, cfg *config.Worker, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, AppCheckTimeout)
	defer cancel()
	app, _, err := clients.AppClient().Apps.Get(ctx, "")
	var er *github.ErrorResponse
	switch {
	case err == nil:
		log.Debug("GitHub App checked", "app_id", app.GetID(), "app_slug", app.GetSlug())
		return nil
	case errors.As(err, &er) && er.Response != nil && (er.Response.StatusCode == http.StatusUnauthorized || er.Response.StatusCode == http.StatusNotFound):
		key := "GITHUB_APP_PRIVATE_KEY"
		if cfg.PrivateKey == "" {
			key = "GITHUB_APP_PRIVATE_KEY_FILE"
		}
		return fmt.Errorf("github app: %w", &AppCredentialsError{AppID: cfg.AppID, KeyVariable: key, Response: er})
	}
	log.Warn("could not check the GitHub App at start-up; starting anyway", "app_id", cfg.AppID,
		"api_url", cfg.APIURL, "timeout", strconv.Quote(AppCheckTimeout.String()), "error", err)
	return nil
}
