package events

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const (
	testOwner = "octo-org"
	testRepo  = "hello-world"
	testURL   = "https://github.com/octo-org/hello-world/pull/7"
	testSHA   = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	testSHA2  = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	testApp   = int64(4242)
	testName  = "prreconciler"
)

// remove, given to set, deletes the key instead.
var remove = &struct{}{}

// set assigns v at the dotted path in m, creating objects on the way.
func set(t *testing.T, m map[string]any, path string, v any) {
	t.Helper()
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	if v == remove {
		delete(m, keys[len(keys)-1])
		return
	}
	m[keys[len(keys)-1]] = v
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// requestMap is a valid reconcile request as JSON, changed by the key/value pairs given
// (a value of remove deletes the key).
func requestMap(t *testing.T, kv ...any) map[string]any {
	t.Helper()
	m := map[string]any{"owner": testOwner, "repo": testRepo, "url": testURL, "sha": testSHA}
	for i := 0; i+1 < len(kv); i += 2 {
		set(t, m, kv[i].(string), kv[i+1])
	}
	return m
}

func requestMsg(t *testing.T, kv ...any) *Message {
	t.Helper()
	return &Message{ID: "17", Data: mustJSON(t, requestMap(t, kv...))}
}

func rawMsg(data string) *Message {
	return &Message{ID: "17", Data: []byte(data)}
}

// repository is the webhook "repository" object of octo-org/hello-world.
func repository() map[string]any {
	return map[string]any{
		"id": 1296269, "name": testRepo, "full_name": testOwner + "/" + testRepo,
		"html_url": "https://github.com/" + testOwner + "/" + testRepo,
		"url":      "https://api.github.com/repos/" + testOwner + "/" + testRepo,
		"owner":    map[string]any{"login": testOwner, "id": 1},
		// A timestamp that is not RFC 3339, as some payloads carry: it must not matter.
		"created_at": "2018-04-25 20:42:10",
	}
}

// prBody is a pull_request webhook payload for PR 7 at testSHA.
func prBody(action string) map[string]any {
	return map[string]any{
		"action": action, "number": 7,
		"pull_request": map[string]any{
			"url":      "https://api.github.com/repos/octo-org/hello-world/pulls/7",
			"html_url": testURL, "number": 7, "state": "open", "draft": false,
			"head": map[string]any{"ref": "feature", "sha": testSHA},
			"base": map[string]any{"ref": "main", "sha": testSHA2},
		},
		"repository":   repository(),
		"installation": map[string]any{"id": 42, "node_id": "MDIz"},
		"sender":       map[string]any{"login": "octocat"},
	}
}

// prRefs is the pull_requests list of a check run or suite: API URLs, as GitHub sends them.
func prRefs(numbers ...int) []any {
	refs := []any{}
	for _, n := range numbers {
		refs = append(refs, map[string]any{
			"url": "https://api.github.com/repos/octo-org/hello-world/pulls/" + itoa(n), "id": 1000 + n, "number": n,
			"head": map[string]any{"ref": "feature", "sha": testSHA, "repo": map[string]any{"id": 1296269}},
			"base": map[string]any{"ref": "main", "sha": testSHA2, "repo": map[string]any{"id": 1296269}},
		})
	}
	return refs
}

func itoa(n int) string { return strconv.Itoa(n) }

// checkRunBody is a check_run payload for a run of app with the name given, listing the PRs.
func checkRunBody(action string, app int64, name string, prs ...int) map[string]any {
	return map[string]any{
		"action": action,
		"check_run": map[string]any{
			"id": 4, "name": name, "head_sha": testSHA, "status": "completed", "conclusion": "neutral",
			"app":           map[string]any{"id": app, "created_at": "2018-04-25 20:42:10"},
			"pull_requests": prRefs(prs...),
			"check_suite":   map[string]any{"id": 5, "head_sha": testSHA, "pull_requests": prRefs(prs...)},
		},
		"requested_action": map[string]any{"identifier": "fix"},
		"repository":       repository(),
		"installation":     map[string]any{"id": 42},
	}
}

func checkSuiteBody(action string, prs ...int) map[string]any {
	return map[string]any{
		"action": action,
		"check_suite": map[string]any{
			"id": 5, "head_sha": testSHA, "head_branch": "feature", "status": "queued",
			"app":           map[string]any{"id": testApp},
			"pull_requests": prRefs(prs...),
		},
		"repository":   repository(),
		"installation": map[string]any{"id": 42},
	}
}

// relayMsg wraps a webhook payload as the relay publishes it: ce-type with the default prefix,
// ce-id, ce-subject and ce-action attributes, and the when/headers/body envelope. attrs
// changes attributes (name, value; a value of "-" removes the attribute).
func relayMsg(t *testing.T, event string, body map[string]any, attrs ...string) *Message {
	t.Helper()
	m := &Message{
		ID: "msg-1",
		Data: mustJSON(t, map[string]any{
			"when":    "2024-05-04T01:14:52Z",
			"headers": map[string]any{"event": event, "delivery_id": "hdr-delivery", "hook_id": "1", "user_agent": "GitHub-Hookshot/1"},
			"body":    body,
		}),
		Attributes: map[string]string{
			"ce-id":          "ce-delivery",
			"ce-type":        DefaultTypePrefix + "." + event,
			"ce-source":      "https://github.com/" + testOwner + "/" + testRepo,
			"ce-specversion": "1.0",
			"ce-subject":     testOwner + "/" + testRepo,
		},
	}
	if a, ok := body["action"].(string); ok {
		m.Attributes["ce-action"] = a
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "-" {
			delete(m.Attributes, attrs[i])
		} else {
			m.Attributes[attrs[i]] = attrs[i+1]
		}
	}
	return m
}

// edit applies set to the payload and returns it.
func edit(t *testing.T, body map[string]any, kv ...any) map[string]any {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		set(t, body, kv[i].(string), kv[i+1])
	}
	return body
}

func prRequest(number int, sha string, installation int64, rerun bool, delivery string) Request {
	return Request{
		Resource: Resource{Owner: testOwner, Repo: testRepo, Number: number,
			URL: "https://github.com/octo-org/hello-world/pull/" + itoa(number)},
		SHA: sha, InstallationID: installation, Rerun: rerun, DeliveryID: delivery, BaseSHA: testSHA2,
	}
}

type decodeCase struct {
	name    string
	dec     Decoder
	msg     *Message
	want    []Request // accepted: exactly these requests
	ignored string    // ignored: the reason contains this
	field   string    // invalid: the field named
	reason  string    // invalid: the reason contains this
}

// wantTrigger is the Trigger of the requests of m: "event.action" of a relay event (the event
// after the last dot of ce-type, the action of the payload), the "trigger" of a request.
func wantTrigger(t *testing.T, m *Message) string {
	t.Helper()
	var data struct {
		Trigger string `json:"trigger"`
		Body    struct {
			Action string `json:"action"`
		} `json:"body"`
	}
	_ = json.Unmarshal(m.Data, &data)
	ceType := m.Attributes["ce-type"]
	for k, v := range m.Attributes {
		if ceType == "" && strings.EqualFold(k, "ce-type") {
			ceType = v
		}
	}
	if ceType == "" {
		return data.Trigger
	}
	return ceType[strings.LastIndex(ceType, ".")+1:] + "." + data.Body.Action
}

func runDecodeCases(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dec := tc.dec
			res, err := dec.Decode(tc.msg)
			switch {
			case tc.field != "":
				if err == nil {
					t.Fatalf("Decode = %+v, want an error on field %s", res, tc.field)
				}
				if !errors.Is(err, ErrInvalidMessage) {
					t.Errorf("errors.Is(%v, ErrInvalidMessage) = false", err)
				}
				var ie *InvalidMessageError
				if !errors.As(err, &ie) {
					t.Fatalf("error %T %v is not an *InvalidMessageError", err, err)
				}
				if ie.Field != tc.field || !strings.Contains(ie.Reason, tc.reason) {
					t.Errorf("error on field %q, reason %q; want field %q, reason containing %q", ie.Field, ie.Reason, tc.field, tc.reason)
				}
				if ie.MessageID != tc.msg.ID {
					t.Errorf("MessageID = %q, want %q", ie.MessageID, tc.msg.ID)
				}
				if !strings.HasPrefix(err.Error(), "invalid message "+tc.msg.ID+": field "+tc.field+": ") {
					t.Errorf("Error() = %q", err.Error())
				}
				if len(res.Requests) != 0 || res.Ignored != "" {
					t.Errorf("Result = %+v alongside an error", res)
				}
			case tc.ignored != "":
				if err != nil {
					t.Fatalf("Decode error %v, want ignored", err)
				}
				if len(res.Requests) != 0 || !strings.Contains(res.Ignored, tc.ignored) {
					t.Errorf("Decode = %+v, want no requests and Ignored containing %q", res, tc.ignored)
				}
			default:
				if err != nil {
					t.Fatalf("Decode error: %v", err)
				}
				if res.Ignored != "" {
					t.Errorf("Ignored = %q alongside requests", res.Ignored)
				}
				// Every request says which event asked for it; the cases' wants leave it out.
				for i := range res.Requests {
					if got, want := res.Requests[i].Trigger, wantTrigger(t, tc.msg); got != want {
						t.Errorf("request %d: Trigger = %q, want %q", i, got, want)
					}
					res.Requests[i].Trigger = ""
				}
				if !reflect.DeepEqual(res.Requests, tc.want) {
					t.Errorf("Requests =\n%+v\nwant\n%+v", res.Requests, tc.want)
				}
				for i := range res.Requests {
					r := res.Requests[i]
					if err := r.Validate(); err != nil {
						t.Errorf("request %d does not validate: %v", i, err)
					}
				}
			}
		})
	}
}

func TestDecodeRequestJSON(t *testing.T) {
	want := func(mod func(*Request)) []Request {
		r := Request{Resource: Resource{Owner: testOwner, Repo: testRepo, Number: 7, URL: testURL}, SHA: testSHA, DeliveryID: "17"}
		if mod != nil {
			mod(&r)
		}
		return []Request{r}
	}
	upperSHA := strings.ToUpper(testSHA)
	cases := []decodeCase{
		{name: "valid", msg: requestMsg(t), want: want(nil)},
		{name: "rerun", msg: requestMsg(t, "rerun", true), want: want(func(r *Request) { r.Rerun = true })},
		{name: "rerun false", msg: requestMsg(t, "rerun", false), want: want(nil)},
		{name: "installationId", msg: requestMsg(t, "installationId", 42), want: want(func(r *Request) { r.InstallationID = 42 })},
		{name: "installationId zero", msg: requestMsg(t, "installationId", 0), want: want(nil)},
		{name: "all fields", msg: requestMsg(t, "installationId", 9007199254740993, "rerun", true),
			want: want(func(r *Request) { r.InstallationID = 9007199254740993; r.Rerun = true })},
		{name: "upper-case SHA stored lower-case", msg: requestMsg(t, "sha", upperSHA), want: want(nil)},
		{name: "baseSha", msg: requestMsg(t, "baseSha", strings.ToUpper(testSHA2)), want: want(func(r *Request) { r.BaseSHA = testSHA2 })},
		{name: "baseSha empty", msg: requestMsg(t, "baseSha", ""), want: want(nil)},
		{name: "changedFiles", msg: requestMsg(t, "changedFiles", 1000), want: want(func(r *Request) { r.ChangedFiles = 1000 })},
		{name: "changedFiles negative", msg: requestMsg(t, "changedFiles", -1), field: "changedFiles", reason: "is negative"},
		{name: "changedFiles not a number", msg: requestMsg(t, "changedFiles", "300"), field: "changedFiles", reason: "want an integer"},
		{name: "baseSha not a SHA", msg: requestMsg(t, "baseSha", "main"), field: "baseSha", reason: "has 4 characters"},
		{name: "owner case differs from URL", msg: requestMsg(t, "owner", "Octo-Org", "repo", "Hello-World"),
			want: want(func(r *Request) { r.Resource.Owner = "Octo-Org"; r.Resource.Repo = "Hello-World" })},
		{name: "enterprise host", msg: requestMsg(t, "url", "https://ghe.example.com/octo-org/hello-world/pull/7"),
			want: want(func(r *Request) { r.Resource.URL = "https://ghe.example.com/octo-org/hello-world/pull/7" })},
		{name: "whitespace around JSON", msg: rawMsg("\n " + string(mustJSON(t, requestMap(t))) + "\n"), want: want(nil)},
		{name: "attributes without ce-type", msg: func() *Message {
			m := requestMsg(t)
			m.Attributes = map[string]string{"kind": "reconcile", "ce-id": "x"}
			return m
		}(), want: want(nil)},
		{name: "no message id", msg: &Message{Data: mustJSON(t, requestMap(t))}, want: want(func(r *Request) { r.DeliveryID = "" })},

		{name: "empty data", msg: rawMsg(""), field: "data", reason: "is empty"},
		{name: "blank data", msg: rawMsg("  \n"), field: "data", reason: "is empty"},
		{name: "nil data", msg: &Message{ID: "17"}, field: "data", reason: "is empty"},
		{name: "bad JSON", msg: rawMsg(`{"owner": "octo-org",`), field: "data", reason: "not valid JSON"},
		{name: "not JSON", msg: rawMsg(`owner=octo-org`), field: "data", reason: "not valid JSON"},
		{name: "JSON array", msg: rawMsg(`[1,2]`), field: "data", reason: "is a JSON array, want an object"},
		{name: "JSON string", msg: rawMsg(`"hello"`), field: "data", reason: "is a JSON string"},
		{name: "JSON null", msg: rawMsg(`null`), field: "owner", reason: "is missing"},
		{name: "empty object", msg: rawMsg(`{}`), field: "owner", reason: "is missing"},
		{name: "trailing data", msg: rawMsg(string(mustJSON(t, requestMap(t))) + `{}`), field: "data", reason: "more data"},
		{name: "trailing garbage", msg: rawMsg(string(mustJSON(t, requestMap(t))) + ` x`), field: "data", reason: "more data"},
		{name: "unknown field", msg: requestMsg(t, "number", 7), field: "number", reason: "not a field"},
		{name: "unknown field installation_id", msg: requestMsg(t, "installation_id", 7), field: "installation_id", reason: "not a field"},
		{name: "missing owner", msg: requestMsg(t, "owner", remove), field: "owner", reason: "is missing"},
		{name: "missing repo", msg: requestMsg(t, "repo", remove), field: "repo", reason: "is missing"},
		{name: "missing url", msg: requestMsg(t, "url", remove), field: "url", reason: "is missing"},
		{name: "missing sha", msg: requestMsg(t, "sha", remove), field: "sha", reason: "is missing"},
		{name: "null sha", msg: requestMsg(t, "sha", nil), field: "sha", reason: "is missing"},
		{name: "empty owner", msg: requestMsg(t, "owner", ""), field: "owner", reason: "is empty"},
		{name: "owner with slash", msg: requestMsg(t, "owner", "octo/org"), field: "owner", reason: "only letters"},
		{name: "owner with leading hyphen", msg: requestMsg(t, "owner", "-octo"), field: "owner", reason: "starts with a hyphen"},
		{name: "owner too long", msg: requestMsg(t, "owner", strings.Repeat("a", 40)), field: "owner", reason: "longer than 39"},
		{name: "repo dot-dot", msg: requestMsg(t, "repo", ".."), field: "repo", reason: "path element"},
		{name: "repo with slash", msg: requestMsg(t, "repo", "hello/../world"), field: "repo", reason: "only letters"},
		{name: "repo too long", msg: requestMsg(t, "repo", strings.Repeat("r", 101)), field: "repo", reason: "longer than 100"},
		{name: "url of another repo", msg: requestMsg(t, "url", "https://github.com/octo-org/other/pull/7"), field: "url", reason: "names octo-org/other"},
		{name: "url of another owner", msg: requestMsg(t, "url", "https://github.com/evil/hello-world/pull/7"), field: "url", reason: "names evil/hello-world"},
		{name: "url http", msg: requestMsg(t, "url", "http://github.com/octo-org/hello-world/pull/7"), field: "url", reason: "https"},
		{name: "url pulls", msg: requestMsg(t, "url", "https://github.com/octo-org/hello-world/pulls/7"), field: "url", reason: "is not https://"},
		{name: "url number 0", msg: requestMsg(t, "url", "https://github.com/octo-org/hello-world/pull/0"), field: "url", reason: "positive integer"},
		{name: "url with query", msg: requestMsg(t, "url", testURL+"?x=1"), field: "url", reason: "query"},
		{name: "url empty", msg: requestMsg(t, "url", ""), field: "url", reason: "is empty"},
		{name: "sha 39", msg: requestMsg(t, "sha", testSHA[:39]), field: "sha", reason: "has 39 characters; a commit SHA has 40 hex digits"},
		{name: "sha 41", msg: requestMsg(t, "sha", testSHA+"0"), field: "sha", reason: "has 41 characters"},
		{name: "sha empty", msg: requestMsg(t, "sha", ""), field: "sha", reason: "has 0 characters"},
		{name: "sha non-hex", msg: requestMsg(t, "sha", "g"+testSHA[1:]), field: "sha", reason: "non-hex"},
		{name: "sha a branch name", msg: requestMsg(t, "sha", "main"), field: "sha", reason: "has 4 characters"},
		{name: "negative installationId", msg: requestMsg(t, "installationId", -1), field: "installationId", reason: "negative"},
		{name: "installationId string", msg: requestMsg(t, "installationId", "42"), field: "installationId", reason: "is a JSON string, want an integer"},
		{name: "installationId fraction", msg: requestMsg(t, "installationId", 4.5), field: "installationId", reason: "want an integer"},
		{name: "installationId overflow", msg: rawMsg(`{"owner":"octo-org","repo":"hello-world","url":"` + testURL + `","sha":"` + testSHA + `","installationId":99999999999999999999}`),
			field: "installationId", reason: "want an integer"},
		{name: "rerun string", msg: requestMsg(t, "rerun", "true"), field: "rerun", reason: "want a boolean"},
		{name: "owner number", msg: requestMsg(t, "owner", 12), field: "owner", reason: "is a JSON number, want a string"},
		{name: "sha object", msg: requestMsg(t, "sha", map[string]any{}), field: "sha", reason: "want a string"},
		{name: "huge data", msg: &Message{ID: "17", Data: []byte(`{"owner":"` + strings.Repeat("a", DefaultMaxBytes) + `"}`)},
			field: "data", reason: "the limit is 10485760"},
		{name: "data over a custom limit", dec: Decoder{MaxBytes: 64}, msg: requestMsg(t), field: "data", reason: "the limit is 64"},
		{name: "deep nesting", msg: rawMsg(strings.Repeat("[", 100000)), field: "data", reason: "not valid JSON"},
	}
	runDecodeCases(t, cases)
}

func TestDecodeErrorMessage(t *testing.T) {
	var d Decoder
	_, err := d.Decode(requestMsg(t, "sha", testSHA[:39]))
	const want = "invalid message 17: field sha: has 39 characters; a commit SHA has 40 hex digits"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "sha" || fe.Value != testSHA[:39] {
		t.Errorf("errors.As FieldError = %+v", fe)
	}
	var ie *InvalidMessageError
	if !errors.As(err, &ie) || errors.Unwrap(err) != ie.Err {
		t.Errorf("Unwrap = %v, want the FieldError", errors.Unwrap(err))
	}

	// Without a message id, and without a field.
	if got := (&InvalidMessageError{Reason: "is broken"}).Error(); got != "invalid message: is broken" {
		t.Errorf("Error() = %q", got)
	}
	if _, err := d.Decode(nil); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("Decode(nil) = %v, want an invalid message", err)
	}
	var nilDecoder *Decoder
	if res, err := nilDecoder.Decode(requestMsg(t)); err != nil || len(res.Requests) != 1 {
		t.Errorf("nil Decoder: %+v, %v", res, err)
	}
}

func TestDecodePullRequest(t *testing.T) {
	req := func(mod func(*Request)) []Request {
		r := prRequest(7, testSHA, 42, false, "ce-delivery")
		if mod != nil {
			mod(&r)
		}
		return []Request{r}
	}
	var cases []decodeCase
	for _, action := range []string{"opened", "reopened", "synchronize", "ready_for_review"} {
		cases = append(cases, decodeCase{name: action, msg: relayMsg(t, "pull_request", prBody(action)), want: req(nil)})
	}
	for _, action := range []string{"closed", "edited", "labeled", "unlabeled", "assigned", "converted_to_draft", "review_requested", "auto_merge_enabled"} {
		cases = append(cases, decodeCase{name: action + " ignored", msg: relayMsg(t, "pull_request", prBody(action)),
			ignored: `pull_request action "` + action + `" is not one we reconcile`})
	}
	cases = append(cases, []decodeCase{
		{name: "draft is reconciled", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request.draft", true)), want: req(nil)},
		{name: "no installation", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "installation", remove)),
			want: req(func(r *Request) { r.InstallationID = 0 })},
		{name: "upper-case head sha", msg: relayMsg(t, "pull_request", edit(t, prBody("synchronize"), "pull_request.head.sha", strings.ToUpper(testSHA))), want: req(nil)},
		{name: "changed files", msg: relayMsg(t, "pull_request", edit(t, prBody("synchronize"), "pull_request.changed_files", 301)),
			want: req(func(r *Request) { r.ChangedFiles = 301 })},
		{name: "negative changed files", msg: relayMsg(t, "pull_request", edit(t, prBody("synchronize"), "pull_request.changed_files", -1)),
			field: "body.pull_request.changed_files", reason: "is negative"},
		{name: "no base", msg: relayMsg(t, "pull_request", edit(t, prBody("synchronize"), "pull_request.base", remove)), want: req(func(r *Request) { r.BaseSHA = "" })},
		{name: "bad base sha", msg: relayMsg(t, "pull_request", edit(t, prBody("synchronize"), "pull_request.base.sha", "xyz")),
			field: "body.pull_request.base.sha", reason: "has 3 characters"},
		{name: "ce-id missing: headers.delivery_id", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-id", "-"),
			want: req(func(r *Request) { r.DeliveryID = "hdr-delivery" })},
		{name: "ce-id and delivery_id missing: message id", msg: func() *Message {
			m := relayMsg(t, "pull_request", prBody("opened"), "ce-id", "-")
			m.Data = mustJSON(t, map[string]any{"when": "2024-05-04T01:14:52Z", "headers": map[string]any{"event": "pull_request"}, "body": prBody("opened")})
			return m
		}(), want: req(func(r *Request) { r.DeliveryID = "msg-1" })},
		{name: "no headers at all", msg: func() *Message {
			m := relayMsg(t, "pull_request", prBody("opened"))
			m.Data = mustJSON(t, map[string]any{"body": prBody("opened")})
			return m
		}(), want: req(nil)},
		{name: "no ce-subject or ce-action", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-subject", "-", "ce-action", "-"), want: req(nil)},
		{name: "ce-subject differs in case only", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-subject", "Octo-Org/Hello-World"), want: req(nil)},
		{name: "canonicalised attribute names", msg: func() *Message {
			m := relayMsg(t, "pull_request", prBody("opened"))
			m.Attributes = map[string]string{"Ce-Type": "dev.chainguard.github.pull_request", "Ce-Id": "ce-delivery", "Ce-Subject": "octo-org/hello-world", "Ce-Action": "opened"}
			return m
		}(), want: req(nil)},
		{name: "exact attribute name wins", msg: relayMsg(t, "pull_request", prBody("opened"), "CE-SUBJECT", "evil/x"), want: req(nil)},
		{name: "ce-pullrequesturl agrees", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-pullrequesturl", testURL), want: req(nil)},
		{name: "enterprise", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request.html_url", "https://ghe.example.com/octo-org/hello-world/pull/7")),
			want: req(func(r *Request) { r.Resource.URL = "https://ghe.example.com/octo-org/hello-world/pull/7" })},

		{name: "ce-subject mismatch", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-subject", "evil/hello-world"),
			field: "attributes.ce-subject", reason: `is "evil/hello-world" but the payload's repository is "octo-org/hello-world"`},
		{name: "ce-subject mismatch on an ignored action", msg: relayMsg(t, "pull_request", prBody("closed"), "ce-subject", "evil/hello-world"),
			field: "attributes.ce-subject", reason: "payload's repository"},
		{name: "ce-action mismatch", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-action", "closed"),
			field: "attributes.ce-action", reason: `is "closed" but the payload's action is "opened"`},
		{name: "ce-pullrequesturl mismatch", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-pullrequesturl", "https://github.com/octo-org/hello-world/pull/8"),
			field: "attributes.ce-pullrequesturl", reason: "payload's pull request"},
		{name: "conflicting attribute spellings", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-subject", "-", "CE-SUBJECT", "evil/x", "Ce-Subject", "octo-org/hello-world"),
			field: "attributes.ce-subject", reason: `is given as "CE-SUBJECT" and "Ce-Subject" with different values`},
		{name: "headers.event mismatch", msg: func() *Message {
			m := relayMsg(t, "pull_request", prBody("opened"))
			m.Data = mustJSON(t, map[string]any{"headers": map[string]any{"event": "push"}, "body": prBody("opened")})
			return m
		}(), field: "headers.event", reason: `is "push" but ce-type names the event "pull_request"`},
		{name: "missing action", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "action", remove)), field: "body.action", reason: "is missing"},
		{name: "action not a string", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "action", 3), "ce-action", "-"),
			field: "body.action", reason: "is a JSON number, want a string"},
		{name: "missing head sha", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request.head.sha", remove)),
			field: "body.pull_request.head.sha", reason: "has 0 characters"},
		{name: "short head sha", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request.head.sha", testSHA[:39])),
			field: "body.pull_request.head.sha", reason: "has 39 characters"},
		{name: "head sha not a string", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request.head.sha", 12)),
			field: "body.pull_request.head.sha", reason: "want a string"},
		{name: "missing head", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request.head", remove)),
			field: "body.pull_request.head", reason: "is missing"},
		{name: "missing pull_request", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request", remove)),
			field: "body.pull_request", reason: "is missing"},
		{name: "pull_request number 0", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request.number", 0)),
			field: "body.pull_request.number", reason: "at least 1"},
		{name: "number disagrees with html_url", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request.number", 8)),
			field: "body.pull_request.number", reason: "does not match"},
		{name: "html_url of another repo", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request.html_url", "https://github.com/evil/hello-world/pull/7")),
			field: "body.pull_request.html_url", reason: "names evil/hello-world"},
		{name: "html_url is the API url", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "pull_request.html_url", "https://api.github.com/repos/octo-org/hello-world/pulls/7")),
			field: "body.pull_request.html_url", reason: "is not https://"},
		{name: "missing repository", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "repository", remove), "ce-subject", "-"),
			field: "body.repository", reason: "is missing"},
		{name: "missing repository with ce-subject", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "repository", remove)),
			field: "body.repository", reason: "is missing"},
		{name: "missing repository owner", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "repository.owner", remove), "ce-subject", "-"),
			field: "body.repository.owner", reason: "is missing"},
		{name: "owner login with path", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "repository.owner.login", "../x"), "ce-subject", "../x/hello-world"),
			field: "body.repository.owner.login", reason: "only letters"},
		{name: "repository name dot-dot", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "repository.name", ".."), "ce-subject", "octo-org/.."),
			field: "body.repository.name", reason: "path element"},
		{name: "negative installation", msg: relayMsg(t, "pull_request", edit(t, prBody("opened"), "installation.id", -5)),
			field: "body.installation.id", reason: "negative"},
		{name: "body missing", msg: func() *Message {
			m := relayMsg(t, "pull_request", prBody("opened"))
			m.Data = mustJSON(t, map[string]any{"headers": map[string]any{"event": "pull_request"}})
			return m
		}(), field: "body", reason: "is missing"},
		{name: "body null", msg: func() *Message {
			m := relayMsg(t, "pull_request", prBody("opened"))
			m.Data = []byte(`{"body":null}`)
			return m
		}(), field: "body", reason: "is missing"},
		{name: "body a string", msg: func() *Message {
			m := relayMsg(t, "pull_request", prBody("opened"))
			m.Data = []byte(`{"body":"{}"}`)
			return m
		}(), field: "body", reason: "is a JSON string, want an object"},
		{name: "headers not an object", msg: func() *Message {
			m := relayMsg(t, "pull_request", prBody("opened"))
			m.Data = []byte(`{"headers":[],"body":{}}`)
			return m
		}(), field: "headers", reason: "is a JSON array, want an object"},
		{name: "relay data not JSON", msg: func() *Message {
			m := relayMsg(t, "pull_request", prBody("opened"))
			m.Data = []byte(`{"body":`)
			return m
		}(), field: "data", reason: "not valid JSON"},
		{name: "relay data empty", msg: func() *Message {
			m := relayMsg(t, "pull_request", prBody("opened"))
			m.Data = nil
			return m
		}(), field: "data", reason: "is empty"},
		{name: "relay data over the limit", dec: Decoder{MaxBytes: 100}, msg: relayMsg(t, "pull_request", prBody("opened")),
			field: "data", reason: "the limit is 100"},
	}...)
	runDecodeCases(t, cases)
}

func TestDecodeCheckRun(t *testing.T) {
	ours := Decoder{AppID: testApp, Identity: testName}
	rerun := func(numbers ...int) []Request {
		var rs []Request
		for _, n := range numbers {
			rs = append(rs, prRequest(n, testSHA, 42, true, "ce-delivery"))
		}
		return rs
	}
	cases := []decodeCase{
		{name: "rerequested", dec: ours, msg: relayMsg(t, "check_run", checkRunBody("rerequested", testApp, testName, 7)), want: rerun(7)},
		{name: "requested_action", dec: ours, msg: relayMsg(t, "check_run", checkRunBody("requested_action", testApp, testName, 7)), want: rerun(7)},
		{name: "multiple PRs", dec: ours, msg: relayMsg(t, "check_run", checkRunBody("rerequested", testApp, testName, 7, 9, 12)), want: rerun(7, 9, 12)},
		{name: "duplicate PRs listed once", dec: ours, msg: relayMsg(t, "check_run", checkRunBody("rerequested", testApp, testName, 7, 7)), want: rerun(7)},
		{name: "any app and name with a zero decoder", msg: relayMsg(t, "check_run", checkRunBody("rerequested", 99, "someone-else", 7)), want: rerun(7)},
		{name: "only the app is checked", dec: Decoder{AppID: testApp}, msg: relayMsg(t, "check_run", checkRunBody("rerequested", testApp, "any-name", 7)), want: rerun(7)},
		{name: "only the name is checked", dec: Decoder{Identity: testName}, msg: relayMsg(t, "check_run", checkRunBody("rerequested", 99, testName, 7)), want: rerun(7)},
		{name: "html_url with trailing slash", dec: ours, msg: relayMsg(t, "check_run", edit(t, checkRunBody("rerequested", testApp, testName, 7), "repository.html_url", "https://github.com/octo-org/hello-world/")),
			want: rerun(7)},
		{name: "PR of another repository skipped", dec: ours, msg: func() *Message {
			body := checkRunBody("rerequested", testApp, testName, 7, 9)
			body["check_run"].(map[string]any)["pull_requests"].([]any)[1].(map[string]any)["base"] = map[string]any{"repo": map[string]any{"id": 5}}
			return relayMsg(t, "check_run", body)
		}(), want: rerun(7)},

		{name: "other app", dec: ours, msg: relayMsg(t, "check_run", checkRunBody("rerequested", 99, testName, 7)), ignored: "belongs to app 99, not to ours (4242)"},
		{name: "no app", dec: ours, msg: relayMsg(t, "check_run", edit(t, checkRunBody("rerequested", testApp, testName, 7), "check_run.app", remove)), ignored: "belongs to app 0"},
		{name: "other name", dec: ours, msg: relayMsg(t, "check_run", checkRunBody("rerequested", testApp, "lint", 7)), ignored: `check run "lint" is not ours ("prreconciler")`},
		{name: "no PRs (fork)", dec: ours, msg: relayMsg(t, "check_run", checkRunBody("rerequested", testApp, testName)), ignored: "lists no pull requests"},
		{name: "pull_requests absent", dec: ours, msg: relayMsg(t, "check_run", edit(t, checkRunBody("rerequested", testApp, testName, 7), "check_run.pull_requests", remove)), ignored: "lists no pull requests"},
		{name: "only PRs of other repositories", dec: ours, msg: func() *Message {
			body := checkRunBody("rerequested", testApp, testName, 7)
			body["check_run"].(map[string]any)["pull_requests"].([]any)[0].(map[string]any)["base"] = map[string]any{"repo": map[string]any{"id": 5}}
			return relayMsg(t, "check_run", body)
		}(), ignored: `lists no pull request of "octo-org/hello-world"`},
		{name: "created", dec: ours, msg: relayMsg(t, "check_run", checkRunBody("created", testApp, testName, 7)), ignored: `check_run action "created" is not one we reconcile`},
		{name: "completed", dec: ours, msg: relayMsg(t, "check_run", checkRunBody("completed", testApp, testName, 7)), ignored: `check_run action "completed"`},

		{name: "missing check_run", dec: ours, msg: relayMsg(t, "check_run", edit(t, checkRunBody("rerequested", testApp, testName, 7), "check_run", remove)), field: "body.check_run", reason: "is missing"},
		{name: "bad head_sha", dec: ours, msg: relayMsg(t, "check_run", edit(t, checkRunBody("rerequested", testApp, testName, 7), "check_run.head_sha", "zz")),
			field: "body.check_run.head_sha", reason: "has 2 characters"},
		{name: "PR number 0", dec: ours, msg: relayMsg(t, "check_run", checkRunBody("rerequested", testApp, testName, 7, 0)),
			field: "body.check_run.pull_requests[1].number", reason: "at least 1"},
		{name: "http html_url", dec: ours, msg: relayMsg(t, "check_run", edit(t, checkRunBody("rerequested", testApp, testName, 7), "repository.html_url", "http://github.com/octo-org/hello-world")),
			field: "body.repository.html_url", reason: "https"},
		{name: "missing html_url", dec: ours, msg: relayMsg(t, "check_run", edit(t, checkRunBody("rerequested", testApp, testName, 7), "repository.html_url", remove)),
			field: "body.repository.html_url", reason: "is missing"},
		{name: "html_url of another repository", dec: ours, msg: relayMsg(t, "check_run", edit(t, checkRunBody("rerequested", testApp, testName, 7), "repository.html_url", "https://github.com/evil/hello-world")),
			field: "body.repository.html_url", reason: "names evil/hello-world"},
		{name: "app id not a number", dec: ours, msg: relayMsg(t, "check_run", edit(t, checkRunBody("rerequested", testApp, testName, 7), "check_run.app.id", "4242")),
			field: "body.check_run.app.id", reason: "want an integer"},
		{name: "pull_requests not an array", dec: ours, msg: relayMsg(t, "check_run", edit(t, checkRunBody("rerequested", testApp, testName, 7), "check_run.pull_requests", map[string]any{})),
			field: "body.check_run.pull_requests", reason: "want an array"},
	}
	runDecodeCases(t, cases)
}

func TestDecodeCheckSuite(t *testing.T) {
	ours := Decoder{AppID: testApp, Identity: testName}
	cases := []decodeCase{
		{name: "requested", dec: ours, msg: relayMsg(t, "check_suite", checkSuiteBody("requested", 7)),
			ignored: "duplicates the pull_request event of the same push"},
		{name: "rerequested", dec: ours, msg: relayMsg(t, "check_suite", checkSuiteBody("rerequested", 7, 8)),
			want: []Request{prRequest(7, testSHA, 42, true, "ce-delivery"), prRequest(8, testSHA, 42, true, "ce-delivery")}},
		{name: "suite without app", dec: ours, msg: relayMsg(t, "check_suite", edit(t, checkSuiteBody("rerequested", 7), "check_suite.app", remove)),
			want: []Request{prRequest(7, testSHA, 42, true, "ce-delivery")}},
		{name: "any app with a zero decoder", msg: relayMsg(t, "check_suite", edit(t, checkSuiteBody("rerequested", 7), "check_suite.app.id", 99)),
			want: []Request{prRequest(7, testSHA, 42, true, "ce-delivery")}},
		{name: "requested of another app", dec: ours, msg: relayMsg(t, "check_suite", edit(t, checkSuiteBody("requested", 7), "check_suite.app.id", 99)),
			ignored: "check suite belongs to app 99"},
		{name: "suite of another app", dec: ours, msg: relayMsg(t, "check_suite", edit(t, checkSuiteBody("requested", 7), "check_suite.app.id", 99)),
			ignored: "check suite belongs to app 99"},
		{name: "no PRs", dec: ours, msg: relayMsg(t, "check_suite", checkSuiteBody("requested")), ignored: "lists no pull requests"},
		{name: "completed", dec: ours, msg: relayMsg(t, "check_suite", checkSuiteBody("completed", 7)), ignored: `check_suite action "completed" is not one we reconcile`},
		{name: "missing check_suite", dec: ours, msg: relayMsg(t, "check_suite", edit(t, checkSuiteBody("requested", 7), "check_suite", remove)),
			field: "body.check_suite", reason: "is missing"},
		{name: "bad head_sha", dec: ours, msg: relayMsg(t, "check_suite", edit(t, checkSuiteBody("requested", 7), "check_suite.head_sha", testSHA+"ff")),
			field: "body.check_suite.head_sha", reason: "has 42 characters"},
	}
	runDecodeCases(t, cases)
}

func TestDecodeRelayRouting(t *testing.T) {
	cases := []decodeCase{
		{name: "unknown event", msg: relayMsg(t, "push", map[string]any{"ref": "refs/heads/main"}), ignored: `event "push" is not one we reconcile`},
		{name: "issue_comment", msg: relayMsg(t, "issue_comment", map[string]any{"action": "created"}), ignored: `event "issue_comment"`},
		{name: "unknown event with junk data", msg: func() *Message {
			m := relayMsg(t, "ping", nil)
			m.Data = []byte("not json")
			return m
		}(), ignored: `event "ping"`},
		{name: "wrong prefix", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-type", "com.github.pull_request"),
			ignored: `type "com.github.pull_request" is not from the relay prefix "dev.chainguard.github"`},
		{name: "prefix without the dot", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-type", "dev.chainguard.githubpull_request"),
			ignored: "is not from the relay prefix"},
		{name: "custom prefix", dec: Decoder{TypePrefix: "com.example.relay"},
			msg:  relayMsg(t, "pull_request", prBody("opened"), "ce-type", "com.example.relay.pull_request"),
			want: []Request{prRequest(7, testSHA, 42, false, "ce-delivery")}},
		{name: "custom prefix with trailing dot", dec: Decoder{TypePrefix: "com.example.relay."},
			msg:  relayMsg(t, "pull_request", prBody("opened"), "ce-type", "com.example.relay.pull_request"),
			want: []Request{prRequest(7, testSHA, 42, false, "ce-delivery")}},
		{name: "default prefix refused by a custom decoder", dec: Decoder{TypePrefix: "com.example.relay"},
			msg: relayMsg(t, "pull_request", prBody("opened")), ignored: `is not from the relay prefix "com.example.relay"`},
		{name: "event with the action in the type", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-type", "dev.chainguard.github.pull_request.opened"),
			ignored: `event "pull_request.opened" is not one we reconcile`},
		{name: "empty ce-type", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-type", ""), field: "attributes.ce-type", reason: "is empty"},
		{name: "prefix and nothing else", msg: relayMsg(t, "pull_request", prBody("opened"), "ce-type", "dev.chainguard.github."),
			field: "attributes.ce-type", reason: "names no event"},
		{name: "request JSON sent as a relay event", msg: func() *Message {
			m := requestMsg(t)
			m.Attributes = map[string]string{"ce-type": "dev.chainguard.github.pull_request"}
			return m
		}(), field: "body", reason: "is missing"},
	}
	runDecodeCases(t, cases)
}

// A zero Decoder and a configured one must agree on everything but the filters.
func TestDecodeIsDeterministic(t *testing.T) {
	msgs := []*Message{
		requestMsg(t), requestMsg(t, "sha", "x"),
		relayMsg(t, "pull_request", prBody("opened")),
		relayMsg(t, "check_run", checkRunBody("rerequested", testApp, testName, 3, 1, 2)),
		relayMsg(t, "pull_request", prBody("opened"), "Ce-Subject", "octo-org/hello-world", "CE-SUBJECT", "octo-org/hello-world"),
	}
	for i, m := range msgs {
		var d Decoder
		r1, e1 := d.Decode(m)
		for range 20 {
			r2, e2 := d.Decode(m)
			if !reflect.DeepEqual(r1, r2) || errString(e1) != errString(e2) {
				t.Fatalf("message %d: decode not deterministic: %+v %v vs %+v %v", i, r1, e1, r2, e2)
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
