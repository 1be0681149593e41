package redact

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/optix-bot/optix-bot/internal/golden"
)

// numbersToText turns numbers into their text: an account id sent as a JSON
// number is a placeholder string in the request and comes back as text, and
// restoreValue works on texts.
func numbersToText(v any) any {
	switch t := v.(type) {
	case json.Number:
		return string(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = numbersToText(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = numbersToText(e)
		}
		return out
	}
	return v
}

// corpusCase is one realistic, finding-shaped payload with what must go and
// what must stay.
type corpusCase struct {
	Name    string              `json:"name"`
	Known   map[string][]string `json:"known"`
	Raws    []string            `json:"raws"`    // identifiers: must not be sent, must come back
	Secrets []string            `json:"secrets"` // must not be sent, must not come back
	Keep    []string            `json:"keep"`    // must occur unchanged
	Payload json.RawMessage     `json:"payload"`
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cs []corpusCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatalf("decode corpus: %v", err)
	}
	return cs
}

// register feeds Known in a fixed order, as a caller walking findings would.
func (c corpusCase) register(r *Redactor) {
	for _, k := range kinds {
		r.Known(k, c.Known[string(k)]...)
	}
}

func (c corpusCase) generic(t testing.TB) any {
	t.Helper()
	g, err := decodeGeneric(c.Payload)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	return g
}

func redactCase(t testing.TB, c corpusCase) (*Redactor, any, []byte) {
	t.Helper()
	r := New()
	c.register(r)
	red, err := r.JSON(c.generic(t))
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	body, err := json.Marshal(red)
	if err != nil {
		t.Fatalf("marshal redacted: %v", err)
	}
	return r, red, body
}

// restoreValue applies Restore to every string and key, as the answer path
// does to each text it shows.
func restoreValue(r *Redactor, v any) any {
	switch t := v.(type) {
	case string:
		return r.Restore(t)
	case json.Number:
		return string(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = restoreValue(r, e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[r.Restore(k)] = restoreValue(r, e)
		}
		return out
	}
	return v
}

func TestCorpus(t *testing.T) {
	var golden bytes.Buffer
	for _, c := range loadCorpus(t) {
		t.Run(c.Name, func(t *testing.T) {
			r, red, body := redactCase(t, c)

			sent := append(slices.Concat(c.Raws, c.Secrets), r.Originals()...)
			if leaks := Leaks(body, sent); len(leaks) > 0 {
				t.Errorf("raw values sent: %q\nbody: %s", leaks, body)
			}
			want := slices.Clone(c.Keep)
			sort.Strings(want)
			if diff := cmp.Diff(want, Leaks(body, c.Keep)); diff != "" {
				t.Errorf("values that must stay (-want +found):\n%s\nbody: %s", diff, body)
			}

			restored := restoreValue(r, red)
			if len(c.Secrets) > 0 {
				rb, _ := json.Marshal(restored)
				if leaks := Leaks(rb, c.Secrets); len(leaks) > 0 {
					t.Errorf("Restore echoed secrets: %q", leaks)
				}
				want := slices.Clone(c.Raws)
				sort.Strings(want)
				if diff := cmp.Diff(want, Leaks(rb, c.Raws)); diff != "" {
					t.Errorf("identifiers not restored (-want +restored):\n%s", diff)
				}
			} else if diff := cmp.Diff(numbersToText(c.generic(t)), restored); diff != "" {
				t.Errorf("Restore is not exact (-input +restored):\n%s", diff)
			}

			// Same input, fresh Redactor: the same text (it is a cache key).
			_, _, again := redactCase(t, c)
			if diff := cmp.Diff(string(body), string(again)); diff != "" {
				t.Errorf("numbering not stable (-first +second):\n%s", diff)
			}
			// Redacting the redacted text changes nothing.
			twice, err := r.JSON(red)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(red, twice); diff != "" {
				t.Errorf("not idempotent (-once +twice):\n%s", diff)
			}

			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			golden.WriteString("== " + c.Name + " " + countsLine(r.Counts()) + "\n")
			golden.Write(pretty.Bytes())
			golden.WriteString("\n")
		})
	}
	checkGolden(t, "corpus.golden", golden.Bytes())
}

func countsLine(c map[Kind]int) string {
	var parts []string
	for _, k := range kinds {
		if c[k] > 0 {
			parts = append(parts, string(k)+"="+strconv.Itoa(c[k]))
		}
	}
	return strings.Join(parts, " ")
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, name, got)
}

// TestPatterns is the specification of each shape, one line each.
func TestPatterns(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"arn", "see arn:aws:s3:::acme-logs.", "see [ARN_1]."},
		{"arn gov partition", "arn:aws-us-gov:iam::123456789012:role/Admin", "[ARN_1]"},
		{"arn china partition", "(arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-0abc)", "([ARN_1])"},
		{"aws managed policy stays", "arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess"},
		{"account id", "account 123456789012, region us-east-1", "account [ACCOUNT_1], region us-east-1"},
		{"13 digits is no account", "ts 1739539623913 ok", "ts 1739539623913 ok"},
		{"asff account", "AWS::::Account:123456789123", "AWS::::Account:[ACCOUNT_1]"},
		{"guid", "tenant 0a1b2c3d-0000-4000-8000-123456789abc.", "tenant [ACCOUNT_1]."},
		{"azure id", "/subscriptions/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg1 is open", "[RESOURCE_1] is open"},
		{"gcp full name", "//compute.googleapis.com/projects/acme-prod/global/firewalls/x", "[RESOURCE_1]"},
		{"gcp short path", "projects/acme-prod/zones/europe-west1-b/instances/vm-1", "[RESOURCE_1]"},
		{"gcp self link", "https://www.googleapis.com/compute/v1/projects/acme-prod/global/networks/default", "[RESOURCE_1]"},
		{"gcp project number", "projects/884422117733", "[RESOURCE_1]"},
		{"gcp organization", "organizations/482913374501", "[ACCOUNT_1]"},
		{"aws ids", "i-0123456789abcdef0 sg-1a2b3c4d vol-0123456789abcdef0 snap-0a1b2c3d ami-12345678 subnet-0a1b2c3d4e5f60718 eipalloc-0a1b2c3d lt-0123456789abcdef0", "[RESOURCE_1] [RESOURCE_2] [RESOURCE_3] [RESOURCE_4] [RESOURCE_5] [RESOURCE_6] [RESOURCE_7] [RESOURCE_8]"},
		{"not an aws id", "multi-12345678 sg-1234 sg-0123456789abcdef0x", "multi-12345678 sg-1234 sg-0123456789abcdef0x"},
		{"ipv4 and cidr", "from 10.1.2.3 and 192.168.0.0/16;", "from [IP_1] and [IP_2];"},
		{"anywhere stays", "0.0.0.0/0, 0.0.0.0 and ::/0", "0.0.0.0/0, 0.0.0.0 and ::/0"},
		{"version is no ip", "v1.2.3.4.5 and TLS 1.2", "v1.2.3.4.5 and TLS 1.2"},
		{"ipv6", "2001:db8::1 and fe80::1ff:fe23:4567:890a/64", "[IP_1] and [IP_2]"},
		{"scopes and times are no ipv6", "std::vector Foo::Bar at 12:30:45 and ab::cd", "std::vector Foo::Bar at 12:30:45 and ab::cd"},
		{"email", "mail <bob.smith+sec@acme-corp.co.uk>.", "mail <[EMAIL_1]>."},
		{"customer hosts", "acme-prod.s3.amazonaws.com x.blob.core.windows.net db.internal.acme.com app.azurewebsites.net", "[HOST_1] [HOST_2] [HOST_3] [HOST_4]"},
		{"provider endpoints stay", "s3.amazonaws.com logs.eu-central-1.amazonaws.com lambda.amazonaws.com blob.core.windows.net compute.googleapis.com management.azure.com", "s3.amazonaws.com logs.eu-central-1.amazonaws.com lambda.amazonaws.com blob.core.windows.net compute.googleapis.com management.azure.com"},
		{"doc links stay", "https://docs.aws.amazon.com/AmazonS3/latest/userguide/x.html and https://learn.microsoft.com/en-us/azure/", "https://docs.aws.amazon.com/AmazonS3/latest/userguide/x.html and https://learn.microsoft.com/en-us/azure/"},
		{"file names are no hosts", "edit main.go, policy.json, run.sh and README.md; Microsoft.Compute/virtualMachines", "edit main.go, policy.json, run.sh and README.md; Microsoft.Compute/virtualMachines"},
		{"url userinfo", "https://admin:pa55@db.acme.com:5432/x", "https://[SECRET_1]@[HOST_1]:5432/x"},
		{"access key id", "key AKIAIOSFODNN7EXAMPLE;", "key [SECRET_1];"},
		{"secret access key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "[SECRET_1]"},
		{"hex digest is no secret", "sha1 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "sha1 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
		{"pem", "k=-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA\n-----END OPENSSH PRIVATE KEY-----.", "k=[SECRET_1]."},
		{"truncated pem", "-----BEGIN PRIVATE KEY-----\nMIIEv", "[SECRET_1]"},
		{"jwt", "t eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "t [SECRET_1]"},
		{"slack", "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy", "[SECRET_1]"},
		{"github", "ghp_16C7e42F292c6912E7710c838347Ae178B4a and github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv", "[SECRET_1] and [SECRET_2]"},
		{"openai", "OPENAI sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2 and sk-abcdefghijklmnopqrstuvwxyz012345", "OPENAI [SECRET_1] and [SECRET_2]"},
		{"google", "AIzaSyD4f8K2mQ9vX1cB7nL3pR6tW0yZ5hJ8kE2", "[SECRET_1]"},
		{"azure key", "AccountName=acmesa;AccountKey=abc+def/ghi==;EndpointSuffix=core.windows.net", "AccountName=[RESOURCE_1];AccountKey=[SECRET_1];EndpointSuffix=core.windows.net"},
		{"sas", "?sv=2022-11-02&ss=b&sig=k3y%2Bsig%3D", "?sv=2022-11-02&ss=b&sig=[SECRET_1]"},
		{"key values", "password=hunter2 pwd: 'x y' token=abc client_secret: \"s3cr3t\"", "password=[SECRET_1] pwd: '[SECRET_2]' token=[SECRET_3] client_secret: \"[SECRET_4]\""},
		{"references are no secrets", `password = var.db_password; password: "<PASSWORD>"; token=${TOKEN}; key: {{ssm-secure:/db}} AccountKey: !GetAtt x; sig=listKeys(sa.id).k; secret=aws_secretsmanager_secret.db.arn`, `password = var.db_password; password: "<PASSWORD>"; token=${TOKEN}; key: {{ssm-secure:/db}} AccountKey: !GetAtt x; sig=listKeys(sa.id).k; secret=aws_secretsmanager_secret.db.arn`},
		{"secrets that look odd", "sig=%2Bk3y%3D password=!Secret1 pwd=hunter.two passwd=(x)", "sig=[SECRET_1] password=[SECRET_2] pwd=[SECRET_3] passwd=[SECRET_4]"},
		{"terraform attribute is no host", "subnet_id = aws_subnet.main.id", "subnet_id = aws_subnet.main.id"},
		{"bearer", "Authorization: Bearer abcdef0123456789xyz", "Authorization: Bearer [SECRET_1]"},
		{"english about secrets stays", "Secret: rotate it. Basic authentication is weak; the token expires; password_last_used is old; max_tokens: 500; secret_rotation=enabled", "Secret: rotate it. Basic authentication is weak; the token expires; password_last_used is old; max_tokens: 500; secret_rotation=enabled"},
		{"placeholders stay", "[ARN_1] [SECRET_2] [HOST_10]", "[ARN_1] [SECRET_2] [HOST_10]"},
		{"foreign placeholder number skipped", "[ACCOUNT_1] vs 123456789012", "[ACCOUNT_1] vs [ACCOUNT_2]"},
		{"same raw same placeholder", "10.0.0.5 then 10.0.0.6 then 10.0.0.5", "[IP_1] then [IP_2] then [IP_1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New().String(tt.in); got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestKnownTokenRule(t *testing.T) {
	tests := []struct {
		name  string
		known []string
		in    string
		want  string
	}{
		{"whole name", []string{"access-logs-bucket"}, "bucket access-logs-bucket.", "bucket [RESOURCE_1]."},
		{"inside a longer name", []string{"access-logs-bucket"}, "access-logs-bucket-old and my-access-logs-bucket", "access-logs-bucket-old and my-access-logs-bucket"},
		{"inside a uri", []string{"access-logs-bucket"}, "s3://access-logs-bucket/2024/", "s3://[RESOURCE_1]/2024/"},
		{"part of a name is not the name", []string{"access-logs-bucket", "logs-archive"}, "access-logs-bucket logs", "[RESOURCE_1] logs"},
		{"longest first", []string{"acme", "acme-finance-pii"}, "acme-finance-pii by acme", "[RESOURCE_1] by [RESOURCE_2]"},
		{"short ignored", []string{"db", "x"}, "db x", "db x"},
		{"generic names ignored", []string{"default", "production"}, "default vpc in production", "default vpc in production"},
		{"unicode neighbours", []string{"bücher"}, "bücherei bücher_ bücher!", "bücherei bücher_ [RESOURCE_1]!"},
		{"quoted", []string{"acme-finance-pii"}, `"acme-finance-pii"`, `"[RESOURCE_1]"`},
		{"case sensitive", []string{"AcmeProd"}, "acmeprod AcmeProd", "acmeprod [RESOURCE_1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New()
			r.Known(KindResource, tt.known...)
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// KnownExact takes the short and generic names Known skips, still as whole
// tokens, and Restore gives the text back exactly.
func TestKnownExact(t *testing.T) {
	r := New()
	r.KnownExact(KindResource, "jo", "admin", "0.0.0.0/0", "")
	in := `aws iam get-user --user-name "jo"; user = "admin" # admins and jobs stay, 0.0.0.0/0 too`
	want := `aws iam get-user --user-name "[RESOURCE_1]"; user = "[RESOURCE_2]" # admins and jobs stay, 0.0.0.0/0 too`
	got := r.String(in)
	if got != want {
		t.Errorf("String\n got %q\nwant %q", got, want)
	}
	if back := r.Restore(got); back != in {
		t.Errorf("Restore = %q", back)
	}
}

func TestRestore(t *testing.T) {
	r := New()
	accounts := make([]string, 11)
	for i := range accounts {
		accounts[i] = "1000000000" + strconv.Itoa(10+i)
	}
	red := r.String(strings.Join(accounts, " "))
	if !strings.Contains(red, "[ACCOUNT_10]") || !strings.Contains(red, "[ACCOUNT_11]") {
		t.Fatalf("expected eleven placeholders, got %q", red)
	}
	sec := r.String("password=hunter2")

	tests := []struct{ name, in, want string }{
		{"ten is not one", "[ACCOUNT_10],[ACCOUNT_1]", accounts[9] + "," + accounts[0]},
		{"adjacent", "[ACCOUNT_1][ACCOUNT_2]", accounts[0] + accounts[1]},
		{"punctuation and quotes", `("[ACCOUNT_3]").'[ACCOUNT_11]'`, `("` + accounts[2] + `").'` + accounts[10] + `'`},
		{"script line", "aws s3api get-bucket-acl --expected-bucket-owner [ACCOUNT_4] && echo ok", "aws s3api get-bucket-acl --expected-bucket-owner " + accounts[3] + " && echo ok"},
		{"secret stays", sec, sec},
		{"unknown placeholders untouched", "[ACCOUNT_99] [ARN_1] [account_1] [ACCOUNT_1", "[ACCOUNT_99] [ARN_1] [account_1] [ACCOUNT_1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Restore(tt.in); got != tt.want {
				t.Errorf("Restore(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
	if got := r.Restore(red); got != strings.Join(accounts, " ") {
		t.Errorf("round trip: %q", got)
	}
}

func TestCountsAndOriginals(t *testing.T) {
	r := New()
	r.String("10.0.0.1 10.0.0.1 10.0.0.2 a@acme.io token=abc123")
	want := map[Kind]int{KindIP: 2, KindEmail: 1, KindSecret: 1}
	if diff := cmp.Diff(want, r.Counts()); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10.0.0.1", "10.0.0.2", "a@acme.io", "abc123"}, r.Originals()); diff != "" {
		t.Errorf("Originals (-want +got):\n%s", diff)
	}
}

func TestJSONKeysAndNumbers(t *testing.T) {
	r := New()
	r.Known(KindResource, "acme-finance-pii")
	got, err := r.JSON(map[string]any{
		"acme-finance-pii": map[string]any{"owner@acme.io": 1},
		"account":          123456789012,
		"port":             22,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Sorted keys: "account" < "acme-finance-pii" < "port"; a key is
	// numbered before the values inside it.
	want := map[string]any{
		"[RESOURCE_1]": map[string]any{"[EMAIL_1]": json.Number("1")},
		"account":      "[ACCOUNT_1]",
		"port":         json.Number("22"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	if _, err := r.JSON(func() {}); err == nil {
		t.Error("JSON of a func: want an error")
	}
}

func TestLeaks(t *testing.T) {
	raws := []string{"123456789012", "acme-finance-pii", "a@acme.io", "s3cr3t"}
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"clean", `{"messages":[{"role":"user","content":"[ACCOUNT_1] [RESOURCE_1]"}]}`, nil},
		{"in content", `{"messages":[{"content":"bucket acme-finance-pii"}]}`, []string{"acme-finance-pii"}},
		{"in a key", `{"a@acme.io":true}`, []string{"a@acme.io"}},
		{"as a number", `{"n":123456789012}`, []string{"123456789012"}},
		{"escaped in json", `{"x":"s3cr\u0033t"}`, []string{"s3cr3t"}},
		{"not json", `garbage s3cr3t {`, []string{"s3cr3t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Leaks([]byte(tt.body), raws)); diff != "" {
				t.Errorf("Leaks (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVocabulary: our own words, check ids and the shapes of ordinary
// finding text must reach the model untouched.
func TestVocabulary(t *testing.T) {
	words := []string{
		"critical", "high", "medium", "low", "informational", "open", "resolved", "muted",
		"production", "staging", "aws", "azure", "gcp", "us-east-1", "eu-west-2", "europe-west1-b",
		"AwsS3Bucket", "AwsEc2SecurityGroup", "Microsoft.Storage/storageAccounts", "AWS::S3::Bucket",
		"F-1a2b3c4d", "AR-251", "CIS-1.4 1.20", "tcp:22", "port 3389", "TLS 1.2", "SSE-KMS",
		"The bucket allows public read access and has no default encryption.",
		"Restrict ingress to known ranges; 0.0.0.0/0 and ::/0 mean anywhere.",
		"Rotate access keys older than 90 days (password policy: 14 characters).",
	}
	f, err := os.Open(filepath.Join("..", "..", "..", "posture", "catalogue", "checks.tsv"))
	if err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			if fields := strings.Split(line, "\t"); len(fields) > 1 {
				words = append(words, fields[1])
			}
		}
		f.Close()
	}
	r := New()
	r.Known(KindResource, "acme-finance-pii", "default", "logs")
	for _, w := range words {
		if got := r.String(w); got != w {
			t.Errorf("String(%q) = %q, want it untouched", w, got)
		}
	}
	if n := len(r.Originals()); n != 0 {
		t.Errorf("replaced %d values in vocabulary: %q", n, r.Originals())
	}
}

func TestLongString(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 5000; i++ {
		b.WriteString("host 10.0.")
		b.WriteString(strconv.Itoa(i / 250))
		b.WriteString(".")
		b.WriteString(strconv.Itoa(i % 250))
		b.WriteString(" owned by acme-finance-pii; ")
	}
	in := b.String()
	r := New()
	r.Known(KindResource, "acme-finance-pii")
	out := r.String(in)
	if got := r.Counts(); got[KindIP] != 5000 || got[KindResource] != 1 {
		t.Errorf("Counts = %v, want 5000 IPs and 1 resource", got)
	}
	if strings.Contains(out, "acme-finance-pii") || strings.Contains(out, "10.0.") {
		t.Error("raw value left in a long string")
	}
	if r.Restore(out) != in {
		t.Error("long string does not round trip")
	}
}
