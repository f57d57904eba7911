package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// TestValidation has one case per rule GitHub enforces with a 422, so the fake cannot drift into accepting what
// GitHub refuses. Bodies are sent raw through go-github's client.
func TestValidation(t *testing.T) {
	s, c := fixture(t)
	run := mustCreate(t, c, github.CreateCheckRunOptions{Name: "a", HeadSHA: sha1x})
	createPath := fmt.Sprintf("repos/%s/%s/check-runs", owner, repo)
	updatePath := fmt.Sprintf("%s/%d", createPath, run.GetID())

	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	ann := func(i int) map[string]any {
		return map[string]any{"path": "a.go", "start_line": 1, "end_line": 1, "annotation_level": "notice", "message": fmt.Sprint(i)}
	}
	anns := func(n int) []any {
		var out []any
		for i := 0; i < n; i++ {
			out = append(out, ann(i))
		}
		return out
	}
	out := func(extra map[string]any) map[string]any {
		m := map[string]any{"title": "t", "summary": "s"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	create := func(extra map[string]any) string {
		m := map[string]any{"name": "n", "head_sha": sha1x}
		for k, v := range extra {
			m[k] = v
		}
		return js(m)
	}
	update := func(extra map[string]any) string {
		m := map[string]any{"name": "n"}
		for k, v := range extra {
			m[k] = v
		}
		return js(m)
	}
	// 65,536 bytes but 32,768 characters: the limit is in bytes.
	tooLong := strings.Repeat("é", 32768)
	badAnn := ann(0)
	delete(badAnn, "path")
	delete(badAnn, "annotation_level")
	badLevel := ann(0)
	badLevel["annotation_level"] = "error"
	longTitle := ann(0)
	longTitle["title"] = strings.Repeat("x", 256)
	action := map[string]any{"label": "l", "description": "d", "identifier": "i"}
	longLabel := map[string]any{"label": strings.Repeat("l", 21), "description": "d", "identifier": "i"}

	const schemaPrefix = "Invalid request.\n\n"
	cases := []struct {
		name   string
		update bool
		body   string
		msg    string       // exact message, for schema failures
		field  github.Error // for "Validation Failed"
	}{
		{name: "summary over 65535 bytes", body: create(map[string]any{"output": out(map[string]any{"summary": tooLong})}),
			msg: schemaPrefix + "Only 65535 characters are allowed; 65536 were supplied."},
		{name: "text over 65535 bytes", update: true, body: update(map[string]any{"output": out(map[string]any{"text": tooLong})}),
			msg: schemaPrefix + "Only 65535 characters are allowed; 65536 were supplied."},
		{name: "51 annotations", update: true, body: update(map[string]any{"output": out(map[string]any{"annotations": anns(51)})}),
			msg: schemaPrefix + "No more than 50 items are allowed; 51 were supplied."},
		{name: "completed without conclusion", update: true, body: update(map[string]any{"status": "completed"}),
			field: github.Error{Resource: "CheckRun", Field: "conclusion", Code: "missing_field"}},
		{name: "completed_at without conclusion", body: create(map[string]any{"completed_at": "2024-01-02T03:04:05Z"}),
			field: github.Error{Resource: "CheckRun", Field: "conclusion", Code: "missing_field"}},
		{name: "unknown status", body: create(map[string]any{"status": "done"}),
			msg: schemaPrefix + `For 'properties/status', "done" is not a member of ["queued", "in_progress", "completed"].`},
		{name: "status waiting by an App", update: true, body: update(map[string]any{"status": "waiting"}),
			msg: schemaPrefix + `For 'properties/status', "waiting" is not a member of ["queued", "in_progress", "completed"].`},
		{name: "status requested by an App", update: true, body: update(map[string]any{"status": "requested"}),
			msg: schemaPrefix + `For 'properties/status', "requested" is not a member of ["queued", "in_progress", "completed"].`},
		{name: "status pending by an App", update: true, body: update(map[string]any{"status": "pending"}),
			msg: schemaPrefix + `For 'properties/status', "pending" is not a member of ["queued", "in_progress", "completed"].`},
		{name: "unknown conclusion", body: create(map[string]any{"conclusion": "great"}),
			msg: schemaPrefix + `For 'properties/conclusion', "great" is not a member of ["success", "failure", "neutral", "cancelled", "timed_out", "action_required", "skipped"].`},
		{name: "conclusion stale", update: true, body: update(map[string]any{"conclusion": "stale"}),
			msg: schemaPrefix + `For 'properties/conclusion', "stale" is not a member of ["success", "failure", "neutral", "cancelled", "timed_out", "action_required", "skipped"].`},
		{name: "output title without summary", body: create(map[string]any{"output": map[string]any{"title": "t"}}),
			msg: schemaPrefix + `"summary" wasn't supplied.`},
		{name: "output summary without title", update: true, body: update(map[string]any{"output": map[string]any{"summary": "s"}}),
			msg: schemaPrefix + `"title" wasn't supplied.`},
		{name: "annotation missing fields", body: create(map[string]any{"output": out(map[string]any{"annotations": []any{badAnn}})}),
			msg: schemaPrefix + `"annotation_level", "path" weren't supplied.`},
		{name: "bad annotation_level", body: create(map[string]any{"output": out(map[string]any{"annotations": []any{badLevel}})}),
			msg: schemaPrefix + `For 'properties/annotation_level', "error" is not a member of ["notice", "warning", "failure"].`},
		{name: "annotation title over 255", update: true, body: update(map[string]any{"output": out(map[string]any{"annotations": []any{longTitle}})}),
			msg: schemaPrefix + "Only 255 characters are allowed; 256 were supplied."},
		{name: "missing name", body: js(map[string]any{"head_sha": sha1x}), msg: schemaPrefix + `"name" wasn't supplied.`},
		{name: "missing head_sha", body: js(map[string]any{"name": "n"}), msg: schemaPrefix + `"head_sha" wasn't supplied.`},
		{name: "missing name and head_sha", body: `{}`, msg: schemaPrefix + `"head_sha", "name" weren't supplied.`},
		{name: "name null", body: js(map[string]any{"name": nil, "head_sha": sha1x}), msg: schemaPrefix + "For 'properties/name', nil is not a string."},
		{name: "empty name on create", body: create(map[string]any{"name": ""}),
			field: github.Error{Resource: "CheckRun", Field: "name", Code: "missing_field"}},
		{name: "empty name on update", update: true, body: update(map[string]any{"name": "", "conclusion": "success"}),
			field: github.Error{Resource: "CheckRun", Field: "name", Code: "missing_field"}},
		{name: "four actions", update: true, body: update(map[string]any{"actions": []any{action, action, action, action}}),
			msg: schemaPrefix + "No more than 3 items are allowed; 4 were supplied."},
		{name: "action label over 20", body: create(map[string]any{"actions": []any{longLabel}}),
			msg: schemaPrefix + "Only 20 characters are allowed; 21 were supplied."},
		{name: "head_sha not hex", body: create(map[string]any{"head_sha": strings.Repeat("z", 40)}),
			msg: "No commit found for SHA: " + strings.Repeat("z", 40)},
		{name: "head_sha too short", body: create(map[string]any{"head_sha": "abc123"}),
			msg: "No commit found for SHA: abc123"},
		{name: "started_at not a date-time", body: create(map[string]any{"started_at": "yesterday"}),
			msg: schemaPrefix + `For 'properties/started_at', "yesterday" is not a date-time.`},
		{name: "details_url not a URL", body: create(map[string]any{"details_url": "javascript:alert(1)"}),
			field: github.Error{Resource: "CheckRun", Field: "details_url", Code: "custom", Message: "details_url must be a valid http or https URL"}},
		{name: "image without alt", body: create(map[string]any{"output": out(map[string]any{"images": []any{map[string]any{"image_url": "https://x/y.png"}}})}),
			msg: schemaPrefix + `"alt" wasn't supplied.`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method, path := "POST", createPath
			if tc.update {
				method, path = "PATCH", updatePath
			}
			before := len(s.CheckRuns(owner, repo, sha1x))
			_, _, err := rawJSON(t, c, method, path, tc.body)
			er := errResp(t, err, 422)
			if !strings.HasPrefix(er.DocumentationURL, "https://docs.github.com/rest/checks/runs#") {
				t.Errorf("documentation_url %q", er.DocumentationURL)
			}
			if tc.msg != "" {
				if er.Message != tc.msg || len(er.Errors) != 0 {
					t.Errorf("message %q errors %v, want %q", er.Message, er.Errors, tc.msg)
				}
			} else if er.Message != "Validation Failed" || len(er.Errors) != 1 || er.Errors[0] != tc.field {
				t.Errorf("message %q errors %+v, want Validation Failed %+v", er.Message, er.Errors, tc.field)
			}
			if after := s.CheckRuns(owner, repo, sha1x); len(after) != before || after[0].Name != "a" || after[0].Status != "queued" {
				t.Errorf("a rejected request changed state: %+v", after)
			}
		})
	}

	// The boundaries themselves are accepted.
	ok := strings.Repeat("x", 65535)
	if _, _, err := rawJSON(t, c, "PATCH", updatePath, update(map[string]any{"name": "a",
		"output": out(map[string]any{"summary": ok, "text": ok, "annotations": anns(50)}), "actions": []any{action, action, action}})); err != nil {
		t.Fatalf("limits: %v", err)
	}
	if _, _, err := rawJSON(t, c, "POST", createPath, `{"name":"x","head_sha":"`+strings.ToUpper(sha1x)+`","started_at":"2024-01-02T03:04:05.123Z"}`); err != nil {
		t.Fatalf("fractional seconds, upper-case SHA: %v", err)
	}
	req, _ := http.NewRequest("POST", c.BaseURL.String()+createPath, strings.NewReader(`{"name":`))
	resp, err := c.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad JSON: status %d", resp.StatusCode)
	}
}
