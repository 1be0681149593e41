package remediate

import (
	"strings"
	"testing"

	"github.com/optix-bot/optix-bot/posture"
)

func script(t *testing.T, f *posture.Finding) string {
	t.Helper()
	res, err := Generate(Input{Finding: f}, "")
	if err != nil || res.Script == nil {
		t.Fatalf("no script: %v %v", err, res.Refused)
	}
	return res.Script.Body
}

// sgRule is one entry of describe-security-group-rules.
func sgRule(id, proto string, from, to int, cidr string) map[string]any {
	r := map[string]any{"SecurityGroupRuleId": id, "GroupId": "sg-0a1b2c3d4e5f67890", "IsEgress": false,
		"IpProtocol": proto, "FromPort": from, "ToPort": to}
	if strings.Contains(cidr, ":") {
		r["CidrIpv6"] = cidr
	} else {
		r["CidrIpv4"] = cidr
	}
	return r
}

// TestSecurityGroupScriptRun runs the security-group script against
// rule sets. It may report success only when no inbound rule from the
// internet covers the port any more; rules that open more than the port
// are never revoked, and make it fail with a message.
func TestSecurityGroupScriptRun(t *testing.T) {
	const ssh = "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22"
	const all = "ec2_securitygroup_allow_ingress_from_internet_to_all_ports"
	tests := []struct {
		name     string
		check    string
		rules    []map[string]any
		account  string
		wantCode int
		wantOut  string   // in stdout+stderr
		revoked  []string // rule ids gone afterwards
		kept     []string // rule ids still there
	}{
		{name: "exact rule revoked", check: ssh, rules: []map[string]any{sgRule("sgr-1", "tcp", 22, 22, "0.0.0.0/0"), sgRule("sgr-2", "tcp", 22, 22, "10.0.0.0/8")},
			wantOut: "Done", revoked: []string{"sgr-1"}, kept: []string{"sgr-2"}},
		{name: "exact IPv4 and IPv6 rules revoked", check: ssh, rules: []map[string]any{sgRule("sgr-1", "tcp", 22, 22, "0.0.0.0/0"), sgRule("sgr-2", "tcp", 22, 22, "::/0")},
			wantOut: "Done", revoked: []string{"sgr-1", "sgr-2"}},
		{name: "nothing from the internet", check: ssh, rules: []map[string]any{sgRule("sgr-2", "tcp", 22, 22, "10.0.0.0/8")},
			wantOut: "nothing to do", kept: []string{"sgr-2"}},
		{name: "only a wider port range", check: ssh, rules: []map[string]any{sgRule("sgr-3", "tcp", 0, 65535, "0.0.0.0/0")},
			wantCode: 1, wantOut: "sgr-3", kept: []string{"sgr-3"}},
		{name: "exact rule plus all protocols from ::/0", check: ssh, rules: []map[string]any{sgRule("sgr-1", "tcp", 22, 22, "0.0.0.0/0"), sgRule("sgr-4", "-1", -1, -1, "::/0")},
			wantCode: 1, wantOut: "sgr-4", revoked: []string{"sgr-1"}, kept: []string{"sgr-4"}},
		{name: "range that misses the port", check: ssh, rules: []map[string]any{sgRule("sgr-5", "tcp", 80, 443, "0.0.0.0/0")},
			wantOut: "nothing to do", kept: []string{"sgr-5"}},
		{name: "wrong account", check: ssh, account: "999988887777", rules: []map[string]any{sgRule("sgr-1", "tcp", 22, 22, "0.0.0.0/0")},
			wantCode: 1, wantOut: "Stopping", kept: []string{"sgr-1"}},
		{name: "all traffic revoked", check: all, rules: []map[string]any{sgRule("sgr-6", "-1", -1, -1, "0.0.0.0/0")},
			wantOut: "Done", revoked: []string{"sgr-6"}},
		{name: "all TCP ports is reported, not revoked", check: all, rules: []map[string]any{sgRule("sgr-6", "-1", -1, -1, "0.0.0.0/0"), sgRule("sgr-7", "tcp", 0, 65535, "::/0")},
			wantCode: 1, wantOut: "sgr-7", revoked: []string{"sgr-6"}, kept: []string{"sgr-7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acctNow := acct
			if tt.account != "" {
				acctNow = tt.account
			}
			body := script(t, fixtures()[tt.check])
			r := runScript(t, body, map[string]any{"account": acctNow, "region": region, "rules": tt.rules})
			out := r.stdout + r.stderr
			if r.code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("exit %d, want %d with %q; output:\n%s", r.code, tt.wantCode, tt.wantOut, out)
			}
			if tt.wantCode != 0 && strings.Contains(out, "Done") {
				t.Errorf("failed run says Done:\n%s", out)
			}
			ids := map[string]bool{}
			for _, x := range r.state["rules"].([]any) {
				ids[x.(map[string]any)["SecurityGroupRuleId"].(string)] = true
			}
			for _, id := range tt.revoked {
				if ids[id] {
					t.Errorf("%s not revoked", id)
				}
			}
			for _, id := range tt.kept {
				if !ids[id] {
					t.Errorf("%s revoked, want it left alone", id)
				}
			}
		})
	}
}
