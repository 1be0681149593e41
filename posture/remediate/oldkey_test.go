package remediate

import (
	"strings"
	"testing"
)

// TestOldKeyScriptRun: the key script deactivates only a key of the
// finding's user that is Active and was created before the cutoff, so a
// typo cannot disable the new key.
func TestOldKeyScriptRun(t *testing.T) {
	keys := func() []any {
		return []any{
			map[string]any{"AccessKeyId": "AKIAOLD0000000000001", "Status": "Active", "CreateDate": "2026-01-02T10:00:00+00:00"},
			map[string]any{"AccessKeyId": "AKIANEW0000000000002", "Status": "Active", "CreateDate": "2026-11-30T10:00:00+00:00"},
			map[string]any{"AccessKeyId": "AKIAOFF0000000000003", "Status": "Inactive", "CreateDate": "2025-01-02T10:00:00+00:00"},
		}
	}
	tests := []struct {
		name, key, cutoff string
		wantCode          int
		wantOut           string
		changed           bool
	}{
		{"old active key deactivated", "AKIAOLD0000000000001", "2026-09-04", 0, "Done", true},
		{"new key refused", "AKIANEW0000000000002", "2026-09-04", 1, "not the old key", false},
		{"created on the cutoff day refused", "AKIAOLD0000000000001", "2026-01-02", 1, "not the old key", false},
		{"key of someone else refused", "AKIAXXX0000000000009", "2026-09-04", 1, "not an access key of", false},
		{"inactive key left alone", "AKIAOFF0000000000003", "2026-09-04", 0, "nothing to do", false},
		{"cutoff must be a date", "AKIAOLD0000000000001", "9999", 1, "YYYY-MM-DD", false},
		{"cutoff with trailing text refused", "AKIAOLD0000000000001", "2026-09-04x", 1, "YYYY-MM-DD", false},
		{"cutoff required", "AKIAOLD0000000000001", "", 1, "Set CREATED_BEFORE", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := script(t, fixtures()["iam_rotate_access_key_90_days"])
			env := []string{"ACCESS_KEY_ID=" + tt.key}
			if tt.cutoff != "" {
				env = append(env, "CREATED_BEFORE="+tt.cutoff)
			}
			user := map[string]any{"mfa": []any{}, "attached": []any{}, "keys": keys(), "can_enrol": true, "arn": "arn:aws:iam::" + acct + ":user/build-bot"}
			r := runScript(t, body, map[string]any{"account": acct, "region": "us-east-1", "user": user}, env...)
			out := r.stdout + r.stderr
			if r.code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("exit %d, want %d with %q; output:\n%s", r.code, tt.wantCode, tt.wantOut, out)
			}
			if got := r.called("aws iam update-access-key"); got != tt.changed {
				t.Errorf("update-access-key called = %v, want %v", got, tt.changed)
			}
		})
	}
}
