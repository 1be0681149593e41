package remediate

import (
	"strings"
	"testing"
)

// TestRDSEncryptScriptRun: the RDS script snapshots only when the operator
// says writes have stopped, names the snapshots after the operator's
// suffix so a rerun cannot collide, and points the cutover at the copy of
// that final snapshot.
func TestRDSEncryptScriptRun(t *testing.T) {
	body := script(t, fixtures()["rds_instance_storage_encrypted"])
	db := map[string]any{"DBInstanceIdentifier": "orders-db", "StorageEncrypted": false}
	tests := []struct {
		name       string
		env        []string
		snapshots  []any
		wantCode   int
		wantSnap   bool
		wantOutput string
	}{
		{"writes not confirmed stopped", []string{"RUN_SUFFIX=r1"}, nil, 1, false, "FINAL=yes"},
		{"FINAL other than yes", []string{"RUN_SUFFIX=r1", "FINAL=y"}, nil, 1, false, "FINAL=yes"},
		{"no suffix", []string{"FINAL=yes"}, nil, 1, false, "RUN_SUFFIX"},
		{"final", []string{"RUN_SUFFIX=r1", "FINAL=yes"}, nil, 0, true, "--db-snapshot-identifier orders-db-optix-r1-encrypted"},
		{"suffix used before", []string{"RUN_SUFFIX=r1", "FINAL=yes"},
			[]any{map[string]any{"DBSnapshotIdentifier": "orders-db-optix-r1", "Encrypted": false}}, 1, false, "new RUN_SUFFIX"},
		{"second run, new suffix", []string{"RUN_SUFFIX=r2", "FINAL=yes"},
			[]any{map[string]any{"DBSnapshotIdentifier": "orders-db-optix-r1", "Encrypted": false}}, 0, true, "orders-db-optix-r2-encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snaps := append([]any{}, tt.snapshots...)
			state := map[string]any{"account": acct, "region": region, "db": db, "snapshots": snaps}
			r := runScript(t, body, state, tt.env...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			if got := r.called("aws rds create-db-snapshot"); got != tt.wantSnap {
				t.Errorf("snapshot taken = %v, want %v; calls %q", got, tt.wantSnap, r.calls)
			}
			if !strings.Contains(r.stdout+r.stderr, tt.wantOutput) {
				t.Errorf("output lacks %q:\n%s%s", tt.wantOutput, r.stdout, r.stderr)
			}
		})
	}
	if strings.Contains(body, "-optix-pre-encrypt") || strings.Contains(body, "the same way") {
		t.Error("script still describes the fixed-name, snapshot-before-writes-stop flow")
	}
}

// TestEBSEncryptScriptRun: the EBS script snapshots a volume only when it is
// detached or its instance is stopped.
func TestEBSEncryptScriptRun(t *testing.T) {
	body := script(t, fixtures()["ec2_ebs_volume_encryption"])
	const inst = "i-0123456789abcdef0"
	tests := []struct {
		name     string
		attached []any
		state    string
		wantCode int
		wantSnap bool
	}{
		{"instance running", []any{map[string]any{"InstanceId": inst}}, "running", 1, false},
		{"instance stopping", []any{map[string]any{"InstanceId": inst}}, "stopping", 1, false},
		{"instance stopped", []any{map[string]any{"InstanceId": inst}}, "stopped", 0, true},
		{"volume detached", []any{}, "running", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := map[string]any{"account": acct, "region": region,
				"volume":   map[string]any{"VolumeId": "vol-0123456789abcdef0", "Encrypted": false, "Attachments": tt.attached},
				"instance": map[string]any{"InstanceId": inst, "State": map[string]any{"Name": tt.state}}}
			r := runScript(t, body, state)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.wantCode, r.stdout, r.stderr)
			}
			if got := r.called("aws ec2 create-snapshot"); got != tt.wantSnap {
				t.Errorf("snapshot taken = %v, want %v; calls %q", got, tt.wantSnap, r.calls)
			}
		})
	}
}
