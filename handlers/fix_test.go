package handlers

import (
	"context"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/bot/rbac"
	"github.com/optix-bot/optix-bot/posture"
	"github.com/optix-bot/optix-bot/posture/remediate"
	"github.com/optix-bot/optix-bot/store"
)

func rolesPolicy(t *testing.T) *rbac.Policy {
	t.Helper()
	b, err := os.ReadFile("testdata/roles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := rbac.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// financeFinding is the seed bucket's public-read finding.
func financeFinding(t *testing.T, h *harness) string {
	t.Helper()
	rep := h.ask(t, "alice", "/optix top-risks 1")
	if !rep.OK || len(rep.Items) == 0 {
		t.Fatalf("top-risks: %+v", rep)
	}
	g := h.ask(t, "alice", "/optix finding "+rep.Items[0].ID)
	for _, it := range g.Items {
		if strings.Contains(it.Title, "readable") || strings.Contains(it.Title, "public read") {
			return it.ID
		}
	}
	if len(g.Items) == 0 {
		t.Fatalf("combination has no members: %+v", g)
	}
	return g.Items[0].ID
}

func requestID(t *testing.T, rep bot.Reply) string {
	t.Helper()
	if !rep.OK || rep.Code == nil || len(rep.Buttons) != 2 {
		t.Fatalf("fix reply has no script and buttons: ok=%v err=%q", rep.OK, rep.Error)
	}
	return rep.Buttons[0].Value
}

func TestFixApprovalFlow(t *testing.T) {
	h := newHarness(t, harnessOpts{policy: rolesPolicy(t)})
	ctx := context.Background()
	fid := financeFinding(t, h)

	rep := h.ask(t, "alice", "/optix fix "+fid)
	id := requestID(t, rep)
	if rep.Buttons[0].ActionID != "approve" || rep.Buttons[1].ActionID != "reject" || rep.Buttons[1].Value != id {
		t.Errorf("buttons = %+v", rep.Buttons)
	}
	cr, err := h.store.Request(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if cr.ScriptSHA256 != store.ScriptHash(rep.Code.Body) || cr.RequiredApprovals != 2 || cr.State != store.StatePending {
		t.Fatalf("stored request = %+v", cr)
	}
	// What was shown is what the linter passed.
	s, ok := h.assessment(t).Finding(fid)
	if !ok {
		t.Fatalf("finding %s not in the assessment", fid)
	}
	if v := remediate.Lint(&remediate.Script{Format: remediate.Format(cr.Format), Language: rep.Code.Language, Body: rep.Code.Body}, s.Finding); len(v) > 0 {
		t.Fatalf("the script shown fails the linter: %v", v)
	}

	steps := []struct {
		name, user, text string
		wantOK           bool
		want             string
	}{
		{"requester cannot approve", "alice", "/optix approve " + id[:8], false, "You requested this change, so someone else must approve it."},
		{"out of scope approver", "dave", "/optix approve " + id[:8], false, "You are not an approver for account 111122223333 / production."},
		{"viewer has no role", "mallory", "/optix approve " + id[:8], false, "You need the approver role to run approve."},
		{"prefix too short", "bob", "/optix approve " + id[:6], false, "Give at least 8 characters of the request id."},
		{"unknown request", "bob", "/optix approve 00000000", false, "There is no change request 00000000; /optix requests lists them."},
		{"first approval", "bob", "/optix approve " + id[:8], true, "1 of 2 approvals"},
		{"same approver twice", "bob", "/optix approve " + id, false, "You already approved this request at 2026-12-03 12:00 UTC; it needs another approver."},
		{"second approval completes", "carol", "/optix approve " + id[:8], true, "ready for a ticket or pipeline"},
		{"decided request", "carol", "/optix reject " + id[:8] + " too late", false, "Change request " + id[:8] + " was already approved by carol at 2026-12-03 12:00 UTC."},
	}
	for _, s := range steps {
		rep := h.ask(t, s.user, s.text)
		got := rep.Error
		if rep.OK {
			got = rep.Title + " " + rep.Summary
		}
		if rep.OK != s.wantOK || !strings.Contains(got, s.want) {
			t.Errorf("%s: ok=%v %q, want ok=%v containing %q", s.name, rep.OK, got, s.wantOK, s.want)
		}
	}
	cr, _ = h.store.Request(ctx, id)
	if cr.State != store.StateApproved || len(cr.Approvals) != 2 {
		t.Errorf("final request = %s with %d approvals", cr.State, len(cr.Approvals))
	}
	entries, err := h.store.AuditFor(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{"request.created", "refused", "request.approval", "request.approved"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit trail of %s lacks %s: %v", id, want, actions)
		}
	}
	if _, err := h.store.Verify(ctx); err != nil {
		t.Errorf("chain does not verify: %v", err)
	}
}

func TestRejectAndButtons(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	fid := financeFinding(t, h)
	id := requestID(t, h.ask(t, "alice", "/optix fix "+fid))

	if rep := h.click(t, "bob", "reject", id, ""); rep.OK || !strings.Contains(rep.Error, "Reject needs a reason") {
		t.Errorf("reject without reason = %+v", rep)
	}
	rep := h.click(t, "bob", "reject", id, "change window is closed")
	if !rep.OK || !rep.Replace || len(rep.Buttons) != 0 || !strings.Contains(rep.Summary, "change window is closed") {
		t.Errorf("reject click should replace the message without buttons: %+v", rep)
	}
	// A second click, from anyone, changes nothing.
	rep = h.click(t, "carol", "approve", id, "")
	if rep.OK || !strings.Contains(rep.Error, "already rejected by bob") {
		t.Errorf("click on a rejected request = %+v", rep)
	}
	if rep := h.click(t, "bob", "approve", "not-a-request-id", ""); rep.OK {
		t.Errorf("forged button value accepted: %+v", rep)
	}
}

func TestExpiredAndRegenerated(t *testing.T) {
	h := newHarness(t, harnessOpts{policy: rolesPolicy(t)})
	ctx := context.Background()
	fid := financeFinding(t, h)
	id := requestID(t, h.ask(t, "alice", "/optix fix "+fid))

	// The same fix again shows the same request rather than filing another.
	if again := requestID(t, h.ask(t, "alice", "/optix fix "+fid)); again != id {
		t.Errorf("fix twice filed two requests: %s, %s", id, again)
	}
	if rep := h.ask(t, "bob", "/optix approve "+id[:8]); !rep.OK {
		t.Fatalf("approve: %s", rep.Error)
	}
	// Simulate an older template version having produced the stored script.
	if _, err := h.store.UpdateRequest(ctx, id, func(cr *store.ChangeRequest) (store.AuditRecord, error) {
		cr.Script += "\n# older template\n"
		cr.ScriptSHA256 = store.ScriptHash(cr.Script)
		for i := range cr.Approvals {
			cr.Approvals[i].ScriptSHA256 = cr.ScriptSHA256
		}
		return store.AuditRecord{Actor: "test", Action: "test.rewrite"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	rep := h.ask(t, "alice", "/optix fix "+fid)
	if requestID(t, rep) != id || !strings.Contains(rep.Summary, "earlier approvals no longer count") {
		t.Fatalf("regenerated script reply = %q", rep.Summary)
	}
	cr, _ := h.store.Request(ctx, id)
	if validApprovals(cr) != 0 {
		t.Errorf("an approval of the old script still counts: %+v", cr.Approvals)
	}
	// bob's earlier approval was of another script, so he may approve again.
	if rep := h.ask(t, "bob", "/optix approve "+id[:8]); !rep.OK || !strings.Contains(rep.Summary, "1 of 2") {
		t.Errorf("approve after regeneration = %+v", rep)
	}

	h.now = h.now.Add(73 * time.Hour)
	rep = h.ask(t, "carol", "/optix approve "+id[:8])
	if rep.OK || !strings.Contains(rep.Error, "expired") {
		t.Errorf("approve after expiry = %+v", rep)
	}
	if cr, _ := h.store.Request(ctx, id); cr.State != store.StateExpired {
		t.Errorf("state after expiry = %s", cr.State)
	}
}

func TestFixArguments(t *testing.T) {
	h := newHarness(t, harnessOpts{policy: rolesPolicy(t)})
	fid := financeFinding(t, h)
	tests := []struct{ user, text, want string }{
		{"alice", "/optix fix", "Give a finding id and optionally a format"},
		{"alice", "/optix fix F-00000000", "There is no finding F-00000000"},
		{"alice", "/optix fix c-3f775bec", "C-3f775bec is a group of findings; a fix is for one finding, so pick a member from /optix finding C-3f775bec."},
		{"alice", "/optix fix " + fid + " pulumi", "Format must be terraform, awscli, cloudformation, azcli or gcloud."},
		{"alice", "/optix fix " + fid + " azcli", "s3_bucket_public_access has no azcli template; try awscli, terraform or cloudformation."},
		{"bob", "/optix fix " + fid, "You need the requester role to run fix."},
	}
	for _, tt := range tests {
		rep := h.ask(t, tt.user, tt.text)
		if rep.OK || !strings.Contains(rep.Error, tt.want) {
			t.Errorf("%s %q: ok=%v %q, want error containing %q", tt.user, tt.text, rep.OK, rep.Error, tt.want)
		}
	}
	rep := h.ask(t, "alice", "/optix fix "+fid+" terraform")
	if !rep.OK || rep.Code == nil || rep.Code.Language != "hcl" {
		t.Errorf("terraform fix = ok %v code %+v err %q", rep.OK, rep.Code, rep.Error)
	}
}

// Every script shown passed the linter, and the templated kinds cover at
// least 80% of the demo estate's open findings.
func TestTemplatesCoverDemoEstate(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.assessment(t)
	kinds := remediate.Kinds()
	byKind := map[string]int{}
	open, covered := 0, 0
	for i := range a.Scored {
		s := &a.Scored[i]
		if s.Finding.Status != posture.StatusOpen {
			continue
		}
		open++
		if slices.Contains(kinds, s.Check.ID) {
			covered++
			byKind[s.Check.ID]++
			// A template is only worth counting if it renders a linted
			// script for this very finding.
			if !remediate.Available(remediate.Input{Finding: s.Finding, Check: s.Check, Attr: s.Attr}, "") {
				t.Errorf("%s (%s) has a template but gets no script", s.Finding.ID, s.Check.ID)
			}
		}
	}
	if share := float64(covered) / float64(open); share < 0.8 {
		t.Errorf("templates cover %d of %d open findings (%.0f%%), want at least 80%%", covered, open, share*100)
	}
	names := make([]string, 0, len(byKind))
	for k := range byKind {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t.Logf("%-66s %4d  %4.1f%%", k, byKind[k], 100*float64(byKind[k])/float64(open))
	}
	t.Logf("templates cover %d of %d open findings (%.1f%%)", covered, open, 100*float64(covered)/float64(open))
}
