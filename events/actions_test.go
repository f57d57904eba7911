package events

import (
	"strings"
	"testing"
)

// A reconciler that declares metadata actions gets a fresh run of the head commit for them; one
// that does not ignores them, as before.
func TestDecodePullRequestActions(t *testing.T) {
	meta := Decoder{PullRequestActions: []string{"edited", "labeled"}}
	rerun := prRequest(7, testSHA, 42, true, "ce-delivery")
	plain := prRequest(7, testSHA, 42, false, "ce-delivery")
	runDecodeCases(t, []decodeCase{
		{name: "edited, declared", dec: meta, msg: relayMsg(t, "pull_request", prBody("edited")), want: []Request{rerun}},
		{name: "labeled, declared", dec: meta, msg: relayMsg(t, "pull_request", prBody("labeled")), want: []Request{rerun}},
		{name: "unlabeled, not declared", dec: meta, msg: relayMsg(t, "pull_request", prBody("unlabeled")), ignored: `action "unlabeled"`},
		{name: "edited, not declared", msg: relayMsg(t, "pull_request", prBody("edited")), ignored: `action "edited"`},
		{name: "edited, closed pull request", dec: meta, msg: relayMsg(t, "pull_request", edit(t, prBody("edited"), "pull_request.state", "closed")),
			ignored: "closed pull request"},
		{name: "synchronize stays a plain request", dec: meta, msg: relayMsg(t, "pull_request", prBody("synchronize")), want: []Request{plain}},
	})
}

func TestDecodePullRequestActionsTrigger(t *testing.T) {
	res, err := (&Decoder{PullRequestActions: []string{"edited"}}).Decode(relayMsg(t, "pull_request", prBody("edited")))
	if err != nil || len(res.Requests) != 1 {
		t.Fatalf("Decode = %+v, %v", res, err)
	}
	if got := res.Requests[0].Trigger; got != "pull_request.edited" {
		t.Errorf("Trigger = %q, want pull_request.edited", got)
	}
}

func TestValidatePullRequestActions(t *testing.T) {
	for _, tc := range []struct {
		actions []string
		want    string // "" for valid
	}{
		{nil, ""},
		{[]string{"edited", "labeled", "unlabeled"}, ""},
		{[]string{"synchronize"}, "reconciled already"},
		{[]string{"edit"}, "not a pull_request action"},
		{[]string{"edited", "edited"}, "listed twice"},
	} {
		err := ValidatePullRequestActions(tc.actions)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidatePullRequestActions(%q) = %v, want nil", tc.actions, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("ValidatePullRequestActions(%q) = %v, want an error containing %q", tc.actions, err, tc.want)
		}
	}
}

// The trigger travels with a request from the intake stage to the reconcile stage.
func TestRequestTriggerRoundTrip(t *testing.T) {
	in := prRequest(7, testSHA, 42, true, "d-1")
	in.Trigger = "pull_request.labeled"
	data, err := in.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Decoder{}).Decode(&Message{ID: "m", Data: data})
	if err != nil || len(res.Requests) != 1 {
		t.Fatalf("Decode(%s) = %+v, %v", data, res, err)
	}
	if got := res.Requests[0].Trigger; got != in.Trigger {
		t.Errorf("Trigger = %q, want %q", got, in.Trigger)
	}
	bad := strings.Replace(string(data), "pull_request.labeled", "Pull Request!", 1)
	if _, err := (&Decoder{}).Decode(&Message{ID: "m", Data: []byte(bad)}); err == nil || !strings.Contains(err.Error(), "trigger") {
		t.Errorf("Decode of a bad trigger = %v, want an error naming trigger", err)
	}
}
