package events

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fuzzSeeds are valid and tricky message data: reconcile requests and relay envelopes.
func fuzzSeeds(t testing.TB) [][]byte {
	relay := func(body any) []byte {
		b, err := json.Marshal(map[string]any{"when": "2024-05-04T01:14:52Z",
			"headers": map[string]any{"event": "pull_request", "delivery_id": "d"}, "body": body})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	req, _ := json.Marshal(map[string]any{"owner": testOwner, "repo": testRepo, "url": testURL, "sha": testSHA, "installationId": 42, "rerun": true})
	return [][]byte{
		req,
		relay(prBody("opened")),
		relay(prBody("closed")),
		relay(checkRunBody("rerequested", testApp, testName, 7, 8)),
		relay(checkRunBody("requested_action", testApp, testName)),
		relay(checkSuiteBody("rerequested", 7)),
		relay(checkSuiteBody("requested")),
		[]byte(`{"owner":"o","repo":"..","url":"https://github.com/o/../pull/1","sha":"` + testSHA + `"}`),
		[]byte(`{"owner":"o","repo":"r","url":"https://github.com/o/r/pull/01?x#y","sha":"` + strings.ToUpper(testSHA) + `","installationId":-1}`),
		[]byte(`{"body":{"action":"opened","pull_request":{"number":1e400}}}`),
		[]byte(`{"body":{"action":"rerequested","check_run":{"pull_requests":[{"number":-1}]},"repository":{"html_url":"https://h/o/r","owner":{"login":"o"},"name":"r"}}}`),
		[]byte(`{"body":[]}`),
		[]byte(`{"headers":"x","body":null}`),
		[]byte("\xff\xfe{}"),
		[]byte(`{"owner":"\u0000","repo":"\ud800","url":"https://github.com/%2e/r/pull/1","sha":""}`),
		[]byte(strings.Repeat("[", 3000)),
		[]byte(`null`),
		[]byte(``),
	}
}

func FuzzDecode(f *testing.F) {
	types := []string{"", DefaultTypePrefix + ".pull_request", DefaultTypePrefix + ".check_run", DefaultTypePrefix + ".check_suite", "com.github.push", DefaultTypePrefix + "."}
	for i, data := range fuzzSeeds(f) {
		for j, typ := range types {
			if (i+j)%2 == 0 || j == 0 {
				f.Add(data, typ != "", typ, "octo-org/hello-world", "opened", "ce-1")
			}
		}
	}
	f.Add(fuzzSeeds(f)[1], true, DefaultTypePrefix+".pull_request", "evil/x", "closed", "")
	f.Add(fuzzSeeds(f)[3], true, DefaultTypePrefix+".check_run", "", "", "")

	decoders := []Decoder{{}, {AppID: testApp, Identity: testName}, {TypePrefix: "com.github", MaxBytes: 512}}
	f.Fuzz(func(t *testing.T, data []byte, hasType bool, ceType, ceSubject, ceAction, ceID string) {
		attrs := map[string]string{}
		if hasType {
			attrs["ce-type"] = ceType
		}
		if ceSubject != "" {
			attrs["ce-subject"] = ceSubject
		}
		if ceAction != "" {
			attrs["ce-action"] = ceAction
		}
		if ceID != "" {
			attrs["ce-id"] = ceID
		}
		for _, d := range decoders {
			m := &Message{ID: "fuzz", Data: data, Attributes: attrs}
			res, err := d.Decode(m)
			checkDecodeResult(t, res, err)
			res2, err2 := d.Decode(&Message{ID: "fuzz", Data: data, Attributes: attrs})
			if !reflect.DeepEqual(res, res2) || errString(err) != errString(err2) {
				t.Fatalf("Decode not deterministic: %+v, %v then %+v, %v", res, err, res2, err2)
			}
		}
	})
}

// checkDecodeResult checks the invariants of any Decode answer.
func checkDecodeResult(t *testing.T, res Result, err error) {
	t.Helper()
	if err != nil {
		var ie *InvalidMessageError
		if !errors.Is(err, ErrInvalidMessage) || !errors.As(err, &ie) {
			t.Fatalf("error %v (%T) is not an invalid message error", err, err)
		}
		if ie.Field == "" || ie.Reason == "" {
			t.Fatalf("error %q names no field or reason", err)
		}
		if len(res.Requests) != 0 || res.Ignored != "" {
			t.Fatalf("Result %+v alongside error %v", res, err)
		}
		return
	}
	if (len(res.Requests) == 0) == (res.Ignored == "") {
		t.Fatalf("Result %+v: want either requests or an ignored reason", res)
	}
	for i, r := range res.Requests {
		before := r
		if err := r.Validate(); err != nil {
			t.Fatalf("request %d %+v does not validate: %v", i, r, err)
		}
		if r != before {
			t.Fatalf("request %d was not normalised: %+v became %+v", i, before, r)
		}
	}
}

func FuzzParseResource(f *testing.F) {
	for _, s := range []string{
		testURL,
		"https://ghe.example.com:8443/Team/svc.go/pull/12345",
		"https://github.com/o/r/pull/0",
		"https://github.com/o/r/pull/07",
		"https://github.com/o/r/pulls/1",
		"http://github.com/o/r/pull/1",
		"https://github.com/o/r/pull/1?",
		"https://github.com/o/r/pull/1#x",
		"https://github.com/o/%2e%2e/pull/1",
		"https://github.com/o/../pull/1",
		"https://u@github.com/o/r/pull/1",
		"https://[::1]:1/o/r/pull/1",
		"HTTPS://GITHUB.COM/O/R/pull/1",
		"https://github.com/" + strings.Repeat("a", 39) + "/" + strings.Repeat("b", 100) + "/pull/9999999999",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseResource(s)
		if err != nil {
			var fe *FieldError
			if r != nil || !errors.As(err, &fe) || fe.Field != "url" {
				t.Fatalf("ParseResource(%q) = %+v, %v: want nil and a url FieldError", s, r, err)
			}
			return
		}
		if r.URL != s || r.Number < 1 || !strings.HasPrefix(s, "https://") || strings.ContainsAny(s, "?#") {
			t.Fatalf("ParseResource(%q) = %+v", s, r)
		}
		if !strings.HasSuffix(s, "/"+r.Owner+"/"+r.Repo+"/pull/"+itoa(r.Number)) {
			t.Fatalf("ParseResource(%q) = %+v: fields do not spell the URL", s, r)
		}
		again := *r
		again.Number = 0
		if err := again.Validate(); err != nil || again != *r {
			t.Fatalf("parsed %+v does not validate back: %+v, %v", r, again, err)
		}
		_ = r.String()
	})
}
