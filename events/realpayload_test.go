package events

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// The payloads of these tests are GitHub's own example deliveries, copied unchanged into
// testdata/ from octokit/webhooks (testdata/SOURCE.md says which file came from where). A
// test that needs a variant changes the decoded payload and says why.

// fixture reads testdata/name as a JSON object.
func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// str reads the string at a dotted path of a payload.
func str(t *testing.T, m map[string]any, path ...string) string {
	t.Helper()
	var v any = m
	for _, k := range path {
		o, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("payload has no %v", path)
		}
		v = o[k]
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("payload %v is %T, not a string", path, v)
	}
	return s
}

// relayed wraps a payload as the webhook relay publishes it: the when/headers/body data and
// the CloudEvent attributes, ce-pullrequesturl built as the relay builds it, on github.com
// whatever the host the payload comes from.
func relayed(t *testing.T, event string, body map[string]any) *Message {
	t.Helper()
	owner := str(t, body, "repository", "owner", "login")
	repo := str(t, body, "repository", "name")
	attrs := map[string]string{
		"ce-id":          "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		"ce-type":        DefaultTypePrefix + "." + event,
		"ce-source":      "https://github.com/" + owner + "/" + repo,
		"ce-specversion": "1.0",
		"ce-subject":     owner + "/" + repo,
		"ce-action":      str(t, body, "action"),
	}
	if pr, ok := body["pull_request"].(map[string]any); ok {
		attrs["ce-pullrequesturl"] = "https://github.com/" + owner + "/" + repo + "/pull/" +
			strconv.Itoa(int(pr["number"].(float64)))
	}
	return &Message{
		ID: "9001",
		Data: mustJSON(t, map[string]any{
			"when": "2019-05-15T15:20:33Z",
			"headers": map[string]any{"event": event, "delivery_id": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
				"hook_id": "1", "user_agent": "GitHub-Hookshot/044aadd"},
			"body": body,
		}),
		Attributes: attrs,
	}
}

// GitHub Enterprise: the relay's ce-pullrequesturl names github.com, the payload the
// Enterprise host. Owner, repository and number agree, so the event is reconciled, at the
// payload's URL.
func TestDecodeEnterprisePullRequest(t *testing.T) {
	const ghesURL = "https://octocoders.github.io/Codertocat/Hello-World/pull/2"
	want := func(delivery string) []Request {
		return []Request{{
			Resource: Resource{Owner: "Codertocat", Repo: "Hello-World", Number: 2, URL: ghesURL},
			SHA:      "14977a7b5485400124827221a04bfb474bcd72d1", InstallationID: 5, DeliveryID: delivery,
			BaseSHA: "78a96099c3f442d7f6e8d1a7d07090091993e65a", ChangedFiles: 1,
		}}
	}
	// No synchronize, reopened or ready_for_review example of GHES is published: those are the
	// opened delivery with its action changed (a synchronize also carries before and after).
	variant := func(action string) map[string]any {
		b := fixture(t, "ghes-35.pull_request.opened.json")
		b["action"] = action
		if action == "synchronize" {
			b["before"] = "0000000000000000000000000000000000000000"
			b["after"] = "14977a7b5485400124827221a04bfb474bcd72d1"
		}
		return b
	}
	cases := []decodeCase{
		{name: "opened", msg: relayed(t, "pull_request", fixture(t, "ghes-35.pull_request.opened.json")),
			want: want("72d3162e-cc78-11e3-81ab-4c9367dc0958")},
	}
	for _, action := range []string{"synchronize", "reopened", "ready_for_review"} {
		cases = append(cases, decodeCase{name: action, msg: relayed(t, "pull_request", variant(action)),
			want: want("72d3162e-cc78-11e3-81ab-4c9367dc0958")})
	}
	wrongNumber := relayed(t, "pull_request", variant("synchronize"))
	wrongNumber.Attributes["ce-pullrequesturl"] = "https://github.com/Codertocat/Hello-World/pull/3"
	wrongRepo := relayed(t, "pull_request", variant("synchronize"))
	wrongRepo.Attributes["ce-pullrequesturl"] = "https://octocoders.github.io/Codertocat/Other/pull/2"
	notAURL := relayed(t, "pull_request", variant("opened"))
	notAURL.Attributes["ce-pullrequesturl"] = "https://github.com/Codertocat/Hello-World/issues/2"
	enterpriseAttr := relayed(t, "pull_request", variant("opened"))
	enterpriseAttr.Attributes["ce-pullrequesturl"] = ghesURL
	caseOnly := relayed(t, "pull_request", variant("opened"))
	caseOnly.Attributes["ce-pullrequesturl"] = "https://GITHUB.com/codertocat/hello-world/pull/2"
	cases = append(cases,
		decodeCase{name: "attribute on the enterprise host too", msg: enterpriseAttr, want: want("72d3162e-cc78-11e3-81ab-4c9367dc0958")},
		decodeCase{name: "attribute differs in case only", msg: caseOnly, want: want("72d3162e-cc78-11e3-81ab-4c9367dc0958")},
		decodeCase{name: "attribute names another number", msg: wrongNumber,
			field: "attributes.ce-pullrequesturl", reason: "owner, repository and number are compared, not the host"},
		decodeCase{name: "attribute names another repository", msg: wrongRepo,
			field: "attributes.ce-pullrequesturl", reason: "the payload's pull request is \"" + ghesURL + "\""},
		decodeCase{name: "attribute is not a pull request URL", msg: notAURL,
			field: "attributes.ce-pullrequesturl", reason: "is not https://<host>/<owner>/<repo>/pull/<number>"},
	)
	runDecodeCases(t, cases)
}

// github.com deliveries, relayed with the attribute the relay adds.
func TestDecodeGitHubPullRequest(t *testing.T) {
	want := []Request{{
		Resource: Resource{Owner: "Codertocat", Repo: "Hello-World", Number: 2, URL: "https://github.com/Codertocat/Hello-World/pull/2"},
		SHA:      "ec26c3e57ca3a959ca5aad62de7213c562f8c821", InstallationID: 1, DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", ChangedFiles: 1,
	}}
	runDecodeCases(t, []decodeCase{
		{name: "opened", msg: relayed(t, "pull_request", fixture(t, "pull_request.opened.json")), want: want},
		{name: "synchronize", msg: relayed(t, "pull_request", fixture(t, "pull_request.synchronize.json")), want: want},
	})
}

// check_suite requested, as GitHub sends it for every push: the published example is the push
// to master (its "after" is the base commit of the pull_request examples) and lists no pull
// request. Even when it lists one (a push to a pull request's branch, which also sends
// pull_request synchronize), it is not reconciled.
func TestDecodeGitHubCheckSuiteRequested(t *testing.T) {
	ours := Decoder{AppID: 29310}
	asPublished := fixture(t, "check_suite.requested.json")
	withPR := fixture(t, "check_suite.requested.json")
	withPR["check_suite"].(map[string]any)["pull_requests"] = []any{map[string]any{"number": 2,
		"head": map[string]any{"sha": withPR["check_suite"].(map[string]any)["head_sha"]},
		"base": map[string]any{"sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", "repo": map[string]any{"id": withPR["repository"].(map[string]any)["id"]}}}}
	rerequested := fixture(t, "check_suite.requested.json")
	rerequested["action"] = "rerequested"
	rerequested["check_suite"] = withPR["check_suite"]
	runDecodeCases(t, []decodeCase{
		{name: "as published", dec: ours, msg: relayed(t, "check_suite", asPublished), ignored: "lists no pull requests"},
		{name: "listing a pull request", dec: ours, msg: relayed(t, "check_suite", withPR), ignored: "duplicates the pull_request event of the same push"},
		{name: "rerequested is a rerun", dec: ours, msg: relayed(t, "check_suite", rerequested), want: []Request{{
			Resource: Resource{Owner: "Codertocat", Repo: "Hello-World", Number: 2, URL: "https://github.com/Codertocat/Hello-World/pull/2"},
			SHA:      "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", InstallationID: 957387, Rerun: true,
			DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", BaseSHA: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
		}}},
	})
}

// A "Re-run" of our run on a fork's pull request: GitHub lists no pull_requests, and the run's
// external_id (written by the statusmanager, see RunRef) names the pull request.
func TestDecodeForkRerun(t *testing.T) {
	// GitHub's rerequested example lists no pull requests, as for a fork's. Our App is its
	// app (2) and our identity its name; it was published in 2018 with an http:// repository
	// html_url, which github.com no longer sends, so that is made https://.
	fork := func(externalID string) map[string]any {
		b := fixture(t, "check_run.rerequested.json")
		if prs := b["check_run"].(map[string]any)["pull_requests"].([]any); len(prs) != 0 {
			t.Fatalf("the fixture lists pull requests %v", prs)
		}
		b["check_run"].(map[string]any)["external_id"] = externalID
		b["repository"].(map[string]any)["html_url"] = "https://github.com/github/hello-world"
		return b
	}
	ours := Decoder{AppID: 2, Identity: "randscape"}
	rerun := func(number int) []Request {
		return []Request{{
			Resource: Resource{Owner: "github", Repo: "hello-world", Number: number, URL: "https://github.com/github/hello-world/pull/" + strconv.Itoa(number)},
			SHA:      "d6fde92930d4715a2b49857d24b940956b26d2d3", InstallationID: 1, Rerun: true,
			DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		}}
	}
	// GitHub Enterprise: its check_run example, as a rerequest of a fork's run of ours.
	ghes := fixture(t, "ghes-35.check_run.created.json")
	ghes["action"] = "rerequested"
	ghes["check_run"].(map[string]any)["pull_requests"] = []any{}
	ghes["check_run"].(map[string]any)["external_id"] = RunRef{Number: 2, Ref: "rerun:abc"}.String()

	runDecodeCases(t, []decodeCase{
		{name: "plain run of ours", dec: ours, msg: relayed(t, "check_run", fork(RunRef{Number: 7}.String())), want: rerun(7)},
		{name: "rerun run of ours", dec: ours, msg: relayed(t, "check_run", fork(RunRef{Number: 7, Ref: "rerun:d-1"}.String())), want: rerun(7)},
		{name: "enterprise", dec: Decoder{AppID: 2, Identity: "Octocoders-linter"}, msg: relayed(t, "check_run", ghes),
			want: []Request{{
				Resource: Resource{Owner: "Codertocat", Repo: "Hello-World", Number: 2, URL: "https://octocoders.github.io/Codertocat/Hello-World/pull/2"},
				SHA:      "14977a7b5485400124827221a04bfb474bcd72d1", InstallationID: 5, Rerun: true,
				DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
			}}},
		{name: "as published: no external_id", dec: ours, msg: relayed(t, "check_run", fork("")), ignored: "lists no pull requests"},
		{name: "run written before RunRef", dec: ours, msg: relayed(t, "check_run", fork("rerun:d-1")), ignored: "lists no pull requests"},
		{name: "another app's external_id is not read", dec: Decoder{Identity: "randscape"}, msg: relayed(t, "check_run", fork("pr:7")),
			ignored: "lists no pull requests"},
		{name: "another app's run", dec: Decoder{AppID: 3}, msg: relayed(t, "check_run", fork("pr:7")), ignored: "belongs to app 2"},
	})
}

func TestRunRef(t *testing.T) {
	cases := []struct {
		ref RunRef
		id  string
	}{
		{RunRef{Number: 7}, "pr:7"},
		{RunRef{Number: 7, Ref: "rerun:72d3162e-cc78-11e3-81ab-4c9367dc0958"}, "pr:7 rerun:72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{RunRef{Number: 12, Ref: "a ref with spaces"}, "pr:12 a ref with spaces"},
		{RunRef{Ref: "rerun:d-1"}, "rerun:d-1"},
		{RunRef{}, ""},
	}
	for _, tc := range cases {
		if got := tc.ref.String(); got != tc.id {
			t.Errorf("%+v.String() = %q, want %q", tc.ref, got, tc.id)
		}
		if got := ParseRunRef(tc.id); !reflect.DeepEqual(got, tc.ref) {
			t.Errorf("ParseRunRef(%q) = %+v, want %+v", tc.id, got, tc.ref)
		}
	}
	for _, id := range []string{"pr:", "pr:0", "pr:-1", "pr:07", "pr:+7", "pr:x", "pr:7x", "PR:7", "pr:99999999999999999999"} {
		if got := ParseRunRef(id); got != (RunRef{Ref: id}) {
			t.Errorf("ParseRunRef(%q) = %+v, want all of it as Ref", id, got)
		}
	}
}
