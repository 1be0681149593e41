package remediate

import (
	"strings"
	"testing"
)

// TestEscalationScriptState: the privilege-escalation script's "already
// fixed" check sees risky actions however they are spelled (any case,
// service:* and prefix or infix wildcards) and stops for a person on an
// Allow statement with NotAction, instead of reporting nothing to do.
func TestEscalationScriptState(t *testing.T) {
	allow := func(key string, actions ...any) map[string]any {
		return map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", key: actions, "Resource": "*"}}}
	}
	tests := []struct {
		name     string
		doc      map[string]any
		wantCode int
		wantOut  string
	}{
		{"exact name", allow("Action", "iam:PassRole"), 1, "Access Analyzer"},
		{"upper-case service", allow("Action", "IAM:PassRole"), 1, "Access Analyzer"},
		{"lower-case action", allow("Action", "iam:passrole"), 1, "Access Analyzer"},
		{"prefix glob", allow("Action", "iam:Put*"), 1, "Access Analyzer"},
		{"attach glob", allow("Action", "iam:Attach*"), 1, "Access Analyzer"},
		{"infix glob", allow("Action", "iam:*Policy*"), 1, "Access Analyzer"},
		{"service wildcard any case", allow("Action", "IAM:*"), 1, "Access Analyzer"},
		{"single action as a string", map[string]any{"Statement": map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}}, 1, "Access Analyzer"},
		{"NotAction needs a person", allow("NotAction", "s3:*"), 1, "review the policy by hand"},
		{"read-only IAM is fixed", allow("Action", "iam:Get*", "iam:List*", "s3:GetObject"), 0, "nothing to do"},
		{"denied NotAction is not an Allow", map[string]any{"Statement": []any{map[string]any{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}}}, 0, "nothing to do"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := script(t, fixtures()["iam_policy_allows_privilege_escalation"])
			st := map[string]any{"account": acct, "region": "us-east-1",
				"policy": map[string]any{"arn": "arn:aws:iam::" + acct + ":policy/ops-helper", "document": tt.doc}}
			r := runScript(t, body, st, "SCOPED_POLICY_FILE=/nonexistent/scoped.json")
			out := r.stdout + r.stderr
			if r.code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("exit %d, want %d with %q; output:\n%s", r.code, tt.wantCode, tt.wantOut, out)
			}
			if r.called("aws iam create-policy-version") {
				t.Error("a policy version was created")
			}
		})
	}
}
