package remediate

import (
	"strings"
	"testing"
)

// TestRequireMFAScriptWarns: before attaching the deny-without-MFA policy
// the script warns that the user's active access keys will stop working
// and that the user may lack the rights to enrol; the header says both.
func TestRequireMFAScriptWarns(t *testing.T) {
	f := fixtures()["iam_user_mfa_enabled_console_access"]
	body := script(t, f)
	for _, format := range []Format{AWSCLI, Terraform} {
		res, err := Generate(Input{Finding: f}, format)
		if err != nil || res.Script == nil {
			t.Fatalf("%s: no script: %v %v", format, err, res.Refused)
		}
		head := res.Script.Body[:strings.Index(res.Script.Body, "set -euo")+1]
		if format == Terraform {
			head = res.Script.Body[:strings.Index(res.Script.Body, "terraform {")]
		}
		for _, w := range []string{"Impact:", "access keys", "iam:CreateVirtualMFADevice", "grants nothing"} {
			if !strings.Contains(head, w) {
				t.Errorf("%s header lacks %q", format, w)
			}
		}
	}
	tests := []struct {
		name      string
		keys      []any
		canEnrol  bool
		wantWarns []string
		noWarns   []string
	}{
		{"active key, can enrol", []any{map[string]any{"AccessKeyId": "AKIAEXAMPLEKEY000001", "Status": "Active"}}, true,
			[]string{"AKIAEXAMPLEKEY000001"}, []string{"not allowed to create"}},
		{"inactive key only, cannot enrol", []any{map[string]any{"AccessKeyId": "AKIAEXAMPLEKEY000002", "Status": "Inactive"}}, false,
			[]string{"not allowed to create"}, []string{"active access keys"}},
		{"no keys", []any{}, true, nil, []string{"WARNING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := map[string]any{"mfa": []any{}, "attached": []any{}, "keys": tt.keys, "can_enrol": tt.canEnrol,
				"arn": "arn:aws:iam::" + acct + ":user/alice"}
			r := runScript(t, body, map[string]any{"account": acct, "region": region, "user": user})
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			for _, w := range tt.wantWarns {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			for _, w := range tt.noWarns {
				if strings.Contains(r.stderr, w) {
					t.Errorf("stderr has %q:\n%s", w, r.stderr)
				}
			}
			// The warnings come before the change.
			attach, listed := -1, -1
			for i, c := range r.calls {
				if strings.HasPrefix(c, "aws iam attach-user-policy") {
					attach = i
				}
				if strings.HasPrefix(c, "aws iam list-access-keys") {
					listed = i
				}
			}
			if listed < 0 || attach < 0 || listed > attach {
				t.Errorf("access keys listed at call %d, policy attached at %d", listed, attach)
			}
		})
	}
}
