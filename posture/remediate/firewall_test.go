package remediate

import (
	"strconv"
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
		{name: "all protocols and all TCP ports revoked", check: all, rules: []map[string]any{sgRule("sgr-6", "-1", -1, -1, "0.0.0.0/0"), sgRule("sgr-7", "tcp", 0, 65535, "::/0")},
			wantOut: "Done", revoked: []string{"sgr-6", "sgr-7"}},
		{name: "only all TCP ports revoked", check: all, rules: []map[string]any{sgRule("sgr-7", "tcp", 0, 65535, "0.0.0.0/0"), sgRule("sgr-8", "tcp", 22, 22, "0.0.0.0/0")},
			wantOut: "Done", revoked: []string{"sgr-7"}, kept: []string{"sgr-8"}},
		{name: "all UDP ports revoked", check: all, rules: []map[string]any{sgRule("sgr-9", "udp", 0, 65535, "::/0")},
			wantOut: "Done", revoked: []string{"sgr-9"}},
		{name: "all TCP ports as protocol 6 is reported", check: all, rules: []map[string]any{sgRule("sgr-10", "6", 0, 65535, "0.0.0.0/0")},
			wantCode: 1, wantOut: "sgr-10", kept: []string{"sgr-10"}},
		{name: "all ports: single ports are not this finding", check: all, rules: []map[string]any{sgRule("sgr-8", "tcp", 22, 22, "0.0.0.0/0")},
			wantOut: "nothing to do", kept: []string{"sgr-8"}},
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

// nsgRule is one entry of az network nsg rule list.
func nsgRule(name, port string, ports []string, src string, srcs []string, mod ...func(map[string]any)) map[string]any {
	r := map[string]any{"name": name, "direction": "Inbound", "access": "Allow", "protocol": "Tcp", "priority": 100,
		"destinationPortRange": nil, "destinationPortRanges": []string{}, "sourceAddressPrefix": nil, "sourceAddressPrefixes": []string{}}
	if port != "" {
		r["destinationPortRange"] = port
	}
	if ports != nil {
		r["destinationPortRanges"] = ports
	}
	if src != "" {
		r["sourceAddressPrefix"] = src
	}
	if srcs != nil {
		r["sourceAddressPrefixes"] = srcs
	}
	for _, m := range mod {
		m(r)
	}
	return r
}

// TestNSGScriptRun runs the NSG script against rule sets. Only a rule
// that is exactly port 22 from one internet source is deleted; any other
// rule that admits the port from the internet (a range, "*", plural
// ports or sources) is left alone and makes the script fail, never say
// Done or "nothing to do".
func TestNSGScriptRun(t *testing.T) {
	deny := func(r map[string]any) { r["access"] = "Deny" }
	udp := func(r map[string]any) { r["protocol"] = "Udp" }
	var manyRanges []map[string]any
	for i := 0; i < maxRanges+1; i++ {
		p := 30000 + i*10
		manyRanges = append(manyRanges, nsgRule("r"+string(rune('a'+i)), "", nil, "Internet", nil, func(r map[string]any) {
			r["destinationPortRange"] = strconv.Itoa(p) + "-" + strconv.Itoa(p+5)
		}))
	}
	tests := []struct {
		name     string
		rules    []map[string]any
		wantCode int
		wantOut  string
		deleted  []string
		kept     []string
	}{
		{name: "exact rule deleted", rules: []map[string]any{nsgRule("ssh-any", "22", nil, "*", nil), nsgRule("ssh-office", "22", nil, "203.0.113.0/24", nil)},
			wantOut: "Done", deleted: []string{"ssh-any"}, kept: []string{"ssh-office"}},
		{name: "nothing from the internet", rules: []map[string]any{nsgRule("ssh-office", "22", nil, "203.0.113.0/24", nil), nsgRule("ssh-deny", "22", nil, "*", nil, deny), nsgRule("ssh-udp", "22", nil, "*", nil, udp)},
			wantOut: "nothing to do", kept: []string{"ssh-office", "ssh-deny", "ssh-udp"}},
		{name: "port range 20-25", rules: []map[string]any{nsgRule("low-ports", "20-25", nil, "Internet", nil)},
			wantCode: 1, wantOut: "20-25", kept: []string{"low-ports"}},
		{name: "plural destination ports", rules: []map[string]any{nsgRule("web-and-ssh", "", []string{"80", "22"}, "0.0.0.0/0", nil)},
			wantCode: 1, wantOut: "web-and-ssh", kept: []string{"web-and-ssh"}},
		{name: "plural ranges", rules: []map[string]any{nsgRule("admin", "", []string{"8000-8080", "10-30"}, "", []string{"0.0.0.0/0"})},
			wantCode: 1, wantOut: "10-30", kept: []string{"admin"}},
		{name: "plural sources", rules: []map[string]any{nsgRule("mixed-src", "22", nil, "", []string{"10.0.0.0/8", "::/0"})},
			wantCode: 1, wantOut: "mixed-src", kept: []string{"mixed-src"}},
		{name: "any port is wider, not deleted", rules: []map[string]any{nsgRule("allow-all", "*", nil, "Internet", nil)},
			wantCode: 1, wantOut: "allow-all", kept: []string{"allow-all"}},
		{name: "exact deleted but a range remains", rules: []map[string]any{nsgRule("ssh-any", "22", nil, "Any", nil), nsgRule("low-ports", "1-1024", nil, "*", nil)},
			wantCode: 1, wantOut: "1-1024", deleted: []string{"ssh-any"}, kept: []string{"low-ports"}},
		{name: "ranges that miss the port", rules: []map[string]any{nsgRule("web", "8000-8080", nil, "Internet", nil), nsgRule("low", "1-21", nil, "Internet", nil), nsgRule("ssh-any", "22", nil, "0.0.0.0/0", nil)},
			wantOut: "Done", deleted: []string{"ssh-any"}, kept: []string{"web", "low"}},
		{name: "two exact rules", rules: []map[string]any{nsgRule("a", "22", nil, "*", nil), nsgRule("b", "22", nil, "Internet", nil)},
			wantCode: 1, wantOut: "by hand", kept: []string{"a", "b"}},
		{name: "more ranges than the script compares", rules: manyRanges, wantCode: 1, wantOut: "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := script(t, fixtures()["network_ssh_internet_access_restricted"])
			r := runScript(t, body, map[string]any{"subscription": azSub, "nsg": "web-nsg", "rules": tt.rules})
			out := r.stdout + r.stderr
			if r.code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("exit %d, want %d with %q; output:\n%s", r.code, tt.wantCode, tt.wantOut, out)
			}
			if tt.wantCode != 0 && (strings.Contains(out, "Done") || strings.Contains(out, "nothing to do")) {
				t.Errorf("failed run claims success:\n%s", out)
			}
			names := map[string]bool{}
			for _, x := range r.state["rules"].([]any) {
				names[x.(map[string]any)["name"].(string)] = true
			}
			for _, n := range tt.deleted {
				if names[n] {
					t.Errorf("%s not deleted", n)
				}
			}
			for _, n := range tt.kept {
				if !names[n] {
					t.Errorf("%s deleted, want it left alone", n)
				}
			}
		})
	}
}

// TestGCPFirewallScriptRun: the firewall script acts on ::/0 as well as
// 0.0.0.0/0, and refuses operator ranges that take in the whole internet
// or a large part of it, before changing anything.
func TestGCPFirewallScriptRun(t *testing.T) {
	tests := []struct {
		name     string
		ranges   []string // the rule's source ranges before
		allowed  string   // ALLOWED_SOURCE_RANGES
		wantCode int
		wantOut  string
		after    []string // nil: unchanged
	}{
		{name: "IPv4 internet replaced", ranges: []string{"0.0.0.0/0"}, allowed: "35.235.240.0/20",
			wantOut: "Done", after: []string{"35.235.240.0/20"}},
		{name: "IPv6 internet replaced", ranges: []string{"10.0.0.0/8", "::/0"}, allowed: "10.0.0.0/8,2001:db8:1::/48",
			wantOut: "Done", after: []string{"10.0.0.0/8", "2001:db8:1::/48"}},
		{name: "already narrow", ranges: []string{"10.0.0.0/8"}, allowed: "35.235.240.0/20", wantOut: "nothing to do"},
		{name: "refuses 0.0.0.0/0", ranges: []string{"0.0.0.0/0"}, allowed: "0.0.0.0/0", wantCode: 1, wantOut: "0.0.0.0/0"},
		{name: "refuses half the internet", ranges: []string{"0.0.0.0/0"}, allowed: "35.235.240.0/20,0.0.0.0/1", wantCode: 1, wantOut: "0.0.0.0/1"},
		{name: "refuses ::/0", ranges: []string{"0.0.0.0/0"}, allowed: "::/0", wantCode: 1, wantOut: "::/0"},
		{name: "refuses a wide IPv6 range", ranges: []string{"::/0"}, allowed: "2000::/3", wantCode: 1, wantOut: "2000::/3"},
		{name: "refuses a prefix that is not a number", ranges: []string{"0.0.0.0/0"}, allowed: "10.0.0.0/x", wantCode: 1, wantOut: "10.0.0.0/x"},
		{name: "refuses too many ranges", ranges: []string{"0.0.0.0/0"}, allowed: "10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6,10.0.0.7,10.0.0.8,0.0.0.0/0",
			wantCode: 1, wantOut: "more than"},
		{name: "needs the operator input", ranges: []string{"0.0.0.0/0"}, wantCode: 1, wantOut: "Set ALLOWED_SOURCE_RANGES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := script(t, fixtures()["compute_firewall_ssh_access_from_the_internet_allowed"])
			var env []string
			if tt.allowed != "" {
				env = append(env, "ALLOWED_SOURCE_RANGES="+tt.allowed)
			}
			r := runScript(t, body, map[string]any{"project": gcpProj, "firewall": "allow-ssh", "sourceRanges": tt.ranges}, env...)
			out := r.stdout + r.stderr
			if r.code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("exit %d, want %d with %q; output:\n%s", r.code, tt.wantCode, tt.wantOut, out)
			}
			var got []string
			for _, x := range r.state["sourceRanges"].([]any) {
				got = append(got, x.(string))
			}
			want := tt.after
			if want == nil {
				want = tt.ranges
				if r.called("gcloud compute firewall-rules update") {
					t.Error("the rule was updated")
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("source ranges after = %v, want %v", got, want)
			}
		})
	}
}

// TestGCPFirewallScriptState: the firewall script changes a rule only while
// it is an enabled INGRESS rule admitting tcp:22 (listed, all tcp ports or
// all protocols), stops for a person when only port ranges could hold it,
// and prints every allowed port first, since the new ranges apply to all.
func TestGCPFirewallScriptState(t *testing.T) {
	tcp := func(ports ...string) map[string]any { return map[string]any{"IPProtocol": "tcp", "ports": ports} }
	tests := []struct {
		name      string
		direction string
		disabled  bool
		allowed   []any
		wantCode  int
		wantOut   string
		changed   bool
	}{
		{name: "tcp 22 among others", direction: "INGRESS", allowed: []any{tcp("80", "22"), map[string]any{"IPProtocol": "udp", "ports": []string{"53"}}},
			wantOut: "every port allow-ssh allows: tcp:80\ntcp:22\nudp:53", changed: true},
		{name: "all tcp ports", direction: "INGRESS", allowed: []any{tcp()}, wantOut: "Done", changed: true},
		{name: "all protocols", direction: "INGRESS", allowed: []any{map[string]any{"IPProtocol": "all"}}, wantOut: "Done", changed: true},
		{name: "protocol number 6", direction: "INGRESS", allowed: []any{map[string]any{"IPProtocol": "6", "ports": []string{"22"}}}, wantOut: "Done", changed: true},
		{name: "egress rule", direction: "EGRESS", allowed: []any{tcp("22")}, wantOut: "not an enabled INGRESS rule"},
		{name: "disabled rule", direction: "INGRESS", disabled: true, allowed: []any{tcp("22")}, wantOut: "not an enabled INGRESS rule"},
		{name: "other tcp port only", direction: "INGRESS", allowed: []any{tcp("2222", "220")}, wantOut: "does not admit tcp:22"},
		{name: "udp 22 only", direction: "INGRESS", allowed: []any{map[string]any{"IPProtocol": "udp", "ports": []string{"22"}}}, wantOut: "does not admit tcp:22"},
		{name: "port range needs a person", direction: "INGRESS", allowed: []any{tcp("20-30")}, wantCode: 1, wantOut: "check by hand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := script(t, fixtures()["compute_firewall_ssh_access_from_the_internet_allowed"])
			st := map[string]any{"project": gcpProj, "firewall": "allow-ssh", "sourceRanges": []string{"0.0.0.0/0"},
				"direction": tt.direction, "disabled": tt.disabled, "allowed": tt.allowed}
			r := runScript(t, body, st, "ALLOWED_SOURCE_RANGES=35.235.240.0/20")
			out := r.stdout + r.stderr
			if r.code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("exit %d, want %d with %q; output:\n%s", r.code, tt.wantCode, tt.wantOut, out)
			}
			if got := r.called("gcloud compute firewall-rules update"); got != tt.changed {
				t.Errorf("rule updated = %v, want %v", got, tt.changed)
			}
		})
	}
	body := script(t, fixtures()["compute_firewall_rdp_access_from_the_internet_allowed"])
	for _, w := range []string{"admits tcp:3389", "apply to EVERY port and protocol"} {
		if !strings.Contains(strings.Join(strings.Fields(body), " "), w) {
			t.Errorf("RDP script lacks %q", w)
		}
	}
}
