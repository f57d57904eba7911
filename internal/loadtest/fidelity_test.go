package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/worker"
)

// fidelityRows are the rows of docs/hostile-input.md about GitHub and the relay as they
// really are: GitHub Enterprise hosts, forks, reinstalled Apps, broken envelopes, and error
// text that must not be published.
func fidelityRows() []hostileRow {
	return []hostileRow{
		{"relay `pull_request` `synchronize` from GitHub Enterprise: payload on `ghe.example`, `ce-pullrequesturl` on `github.com` (as the relay builds it)",
			"worker.Handle", "reconciled (ack true); 1 run(s) of ours on the SHA",
			func(t *testing.T, e *env) string {
				const ghe = "https://ghe.example/" + owner + "/" + repo
				data, attrs := relayOn(ghe, "pull_request", "synchronize", map[string]any{"number": 7, "pull_request": map[string]any{
					"number": 7, "state": "open", "html_url": ghe + "/pull/7", "head": map[string]any{"sha": hostileSHA}}})
				attrs["ce-pullrequesturl"] = prURL(owner, repo, 7)
				o, err := e.w.Handle(context.Background(), &events.Message{ID: "g1", Data: data, Attributes: attrs})
				return describe(e, o, err)
			}},
		{"relay `check_run` `rerequested` of our run on a fork's PR: no `pull_requests`, the run's `external_id` names the PR",
			"worker.Handle", "reconciled (ack true); 2 run(s) of ours on the SHA",
			func(t *testing.T, e *env) string {
				if o, err := e.w.Handle(context.Background(), &events.Message{ID: "k1", Data: reqData(nil)}); o != worker.OutcomeReconciled {
					t.Fatalf("first reconcile: %s %v", o, err)
				}
				runs := e.ours(owner, repo, hostileSHA)
				data, attrs := relay("check_run", "rerequested", map[string]any{"check_run": map[string]any{
					"name": identity, "head_sha": hostileSHA, "app": map[string]any{"id": e.gh.App().ID},
					"external_id": runs[0].ExternalID, "pull_requests": []any{}}})
				o, err := e.w.Handle(context.Background(), &events.Message{ID: "k2", Data: data, Attributes: attrs})
				return describe(e, o, err)
			}},
		{"push envelope whose `message.data` is not base64: the answer's reason", "push handler",
			"HTTP 400 (nack), reason names field `message.data`; 0 run(s)",
			func(t *testing.T, e *env) string {
				rw := httptest.NewRecorder()
				e.w.PushHandler(worker.PushOptions{}).ServeHTTP(rw, httptest.NewRequest(http.MethodPost, "/",
					bytes.NewReader([]byte(`{"message":{"data":"%%%not base64%%%","messageId":"p2"}}`))))
				field := "another field"
				if strings.Contains(rw.Body.String(), "field message.data: is not base64") {
					field = "field `message.data`"
				}
				t.Logf("answer: %s", rw.Body.String())
				return fmt.Sprintf("HTTP %d (%s), reason names %s; %d run(s)", rw.Code, ackWord(rw.Code), field, len(e.ours(owner, repo, hostileSHA)))
			}},
		{"App reinstalled after its installation id was cached (GitHub refuses the old id's token)", "worker.Handle + githubapp + fake",
			"reconciled (ack true); 2 run(s) of ours on the SHA, after 1 new installation lookup",
			func(t *testing.T, e *env) string {
				if o, err := e.w.Handle(context.Background(), &events.Message{ID: "r1", Data: reqData(nil)}); o != worker.OutcomeReconciled {
					t.Fatalf("first reconcile: %s %v", o, err)
				}
				e.gh.Uninstall(e.gh.App(), owner)
				e.gh.Install(e.gh.App(), owner)
				e.gh.ResetCounters()
				o, err := e.w.Handle(context.Background(), &events.Message{ID: "r2", Data: reqData(map[string]any{"rerun": true})})
				return fmt.Sprintf("%s, after %d new installation lookup", describe(e, o, err), e.gh.Count(githubtest.RouteGetRepoInstallation))
			}},
		{"reconciler error carrying an internal URL and a token", "worker.Handle + statusmanager",
			"failed (ack true); 1 run(s) of ours on the SHA; title `Failed: an internal error (the full error is in the logs)`",
			func(t *testing.T, e *env) string {
				e.restart(t, envOpts{reconcile: func(context.Context, *events.Request, *github.Client) (*worker.Result[report], error) {
					return nil, worker.Permanent(errors.New(`Get "https://build.internal.example/v1?token=ghs_s3cr3t": connection refused`))
				}})
				o, err := e.w.Handle(context.Background(), &events.Message{ID: "e1", Data: reqData(nil)})
				runs := e.ours(owner, repo, hostileSHA)
				if len(runs) != 1 {
					return describe(e, o, err)
				}
				for _, leak := range []string{"internal.example", "ghs_"} {
					if strings.Contains(runs[0].Title+runs[0].Summary, leak) {
						return "LEAKED " + leak + " in " + runs[0].Title
					}
				}
				return fmt.Sprintf("%s; title `%s`", describe(e, o, err), runs[0].Title)
			}},
	}
}

// relayOn is relay with the repository's web URL on another host (GitHub Enterprise).
func relayOn(htmlURL, event, action string, body map[string]any) ([]byte, map[string]string) {
	data, attrs := relay(event, action, body)
	var d map[string]any
	_ = json.Unmarshal(data, &d)
	d["body"].(map[string]any)["repository"].(map[string]any)["html_url"] = htmlURL
	data, _ = json.Marshal(d)
	return data, attrs
}
