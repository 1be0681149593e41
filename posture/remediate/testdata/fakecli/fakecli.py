"""A stand-in for the aws, az and gcloud CLIs, for running generated
scripts in tests. It knows only the calls the firewall templates make,
keeps the cloud's state in a JSON file (FAKECLI_STATE), evaluates --query
with the same jmespath library the real CLIs use, and logs every call to
FAKECLI_LOG. Any call it does not know fails loudly, so a template that
starts calling something new fails its test instead of passing silently.
"""
import fnmatch
import json
import os
import re
import sys

import jmespath


def load():
    with open(os.environ["FAKECLI_STATE"]) as f:
        return json.load(f)


def save(state):
    with open(os.environ["FAKECLI_STATE"], "w") as f:
        json.dump(state, f)


def opts(args):
    out, i = {}, 0
    pos = []
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if i + 1 < len(args) and not args[i + 1].startswith("--"):
                out[a] = args[i + 1]
                i += 2
            else:
                out[a] = True
                i += 1
        else:
            pos.append(a)
            i += 1
    return pos, out


def text(v, null):
    if v is None:
        return null
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, list):
        return "\t".join(text(x, null) for x in v)
    return str(v)


def fail(msg):
    sys.stderr.write("fakecli: " + msg + "\n")
    sys.exit(2)


def aws(args, state):
    pos, o = opts(args)
    cmd = " ".join(pos[:2])
    if cmd == "sts get-caller-identity":
        return state["account"]
    if pos[0] == "iam" and "policy" in state:
        return managed_policy(args, pos, o, state)
    if cmd == "accessanalyzer validate-policy":
        # Always one finding, so a test sees the script got past its
        # offending-state check and stopped before changing anything.
        return text(jmespath.search(o["--query"], {"findings": [{"findingType": "SECURITY_WARNING"}]}), "None")
    if pos[0] == "iam":
        return iam(pos, o, state)
    if o.get("--region") != state["region"]:
        fail("wrong region %r" % o.get("--region"))
    if cmd == "ec2 describe-security-group-rules":
        m = re.fullmatch(r"Name=group-id,Values=(sg-[0-9a-f]+)", o["--filters"])
        if not m:
            fail("unexpected filter " + o["--filters"])
        rules = [r for r in state["rules"] if r["GroupId"] == m.group(1)]
        return text(jmespath.search(o["--query"], {"SecurityGroupRules": rules}), "None")
    if cmd == "ec2 revoke-security-group-ingress":
        m = re.fullmatch(r"IpProtocol=(-1|tcp|udp)(?:,FromPort=(\d+),ToPort=(\d+))?,(IpRanges=\[\{CidrIp=([^}]+)\}\]|Ipv6Ranges=\[\{CidrIpv6=([^}]+)\}\])",
                         o["--ip-permissions"])
        if not m:
            fail("unexpected permissions " + o["--ip-permissions"])
        proto, lo, hi, _, v4, v6 = m.groups()
        lo = int(lo) if lo else -1
        hi = int(hi) if hi else -1

        def same(r):
            return (r["GroupId"] == o["--group-id"] and not r["IsEgress"] and r["IpProtocol"] == proto
                    and r["FromPort"] == lo and r["ToPort"] == hi
                    and r.get("CidrIpv4") == v4 and r.get("CidrIpv6") == v6)
        left = [r for r in state["rules"] if not same(r)]
        if len(left) == len(state["rules"]):
            fail("InvalidPermission.NotFound")
        state["rules"] = left
        save(state)
        return None
    if cmd in ("rds wait", "ec2 wait"):
        return None
    if cmd == "rds describe-db-instances":
        db = state["db"]
        if o["--db-instance-identifier"] != db["DBInstanceIdentifier"]:
            fail("unknown DB instance")
        return text(jmespath.search(o["--query"], {"DBInstances": [db]}), "None")
    if cmd == "rds describe-db-snapshots":
        snaps = [x for x in state.get("snapshots", []) if x["DBSnapshotIdentifier"] == o["--db-snapshot-identifier"]]
        if not snaps:
            sys.stderr.write("An error occurred (DBSnapshotNotFound)\n")
            sys.exit(254)
        return text(jmespath.search(o["--query"], {"DBSnapshots": snaps}), "None")
    if cmd in ("rds create-db-snapshot", "rds copy-db-snapshot"):
        new = o.get("--db-snapshot-identifier") or o["--target-db-snapshot-identifier"]
        if any(x["DBSnapshotIdentifier"] == new for x in state.get("snapshots", [])):
            sys.stderr.write("An error occurred (DBSnapshotAlreadyExists)\n")
            sys.exit(254)
        state.setdefault("snapshots", []).append({"DBSnapshotIdentifier": new, "Encrypted": "--kms-key-id" in o})
        save(state)
        return None
    if cmd == "ec2 describe-volumes":
        return text(jmespath.search(o["--query"], {"Volumes": [state["volume"]]}), "None")
    if cmd == "ec2 describe-instances":
        inst = state["instance"]
        if o["--instance-ids"] != inst["InstanceId"]:
            fail("unknown instance")
        return text(jmespath.search(o["--query"], {"Reservations": [{"Instances": [inst]}]}), "None")
    if cmd in ("ec2 create-snapshot", "ec2 copy-snapshot"):
        snaps = state.setdefault("ebs_snapshots", [])
        sid = "snap-%017x" % (len(snaps) + 1)
        snaps.append({"SnapshotId": sid, "Encrypted": "--encrypted" in o})
        save(state)
        return sid
    if cmd == "ec2 describe-snapshots":
        snaps = [x for x in state.get("ebs_snapshots", []) if x["SnapshotId"] == o["--snapshot-ids"]]
        return text(jmespath.search(o["--query"], {"Snapshots": snaps}), "None")
    fail("unknown aws call " + " ".join(args))


def grants(stmt, action):
    # IAM's matching: case-insensitive, * and ? wildcards, NotAction.
    def hit(pats):
        pats = pats if isinstance(pats, list) else [pats]
        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in pats)
    if "NotAction" in stmt:
        return not hit(stmt["NotAction"])
    return hit(stmt.get("Action", []))


def managed_policy(args, pos, o, state):
    # One customer managed policy, state["policy"] = {"arn", "document"}.
    pol, cmd = state["policy"], pos[1]
    if cmd in ("get-policy", "get-policy-version") and o["--policy-arn"] != pol["arn"]:
        fail("unknown policy " + o["--policy-arn"])
    if cmd == "get-policy":
        return text(jmespath.search(o["--query"], {"Policy": {"DefaultVersionId": "v1"}}), "None")
    if cmd == "get-policy-version":
        out = jmespath.search(o["--query"], {"PolicyVersion": {"VersionId": "v1", "Document": pol["document"]}})
        return json.dumps(out) if o.get("--output") == "json" else text(out, "None")
    if cmd == "simulate-custom-policy":
        doc = json.loads(o["--policy-input-list"])
        i = args.index("--action-names") + 1
        res = []
        while i < len(args) and not args[i].startswith("--"):
            stmts = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
            allow = any(s["Effect"] == "Allow" and grants(s, args[i]) for s in stmts)
            deny = any(s["Effect"] == "Deny" and grants(s, args[i]) for s in stmts)
            res.append({"EvalActionName": args[i], "EvalDecision": "allowed" if allow and not deny else "implicitDeny",
                        "MissingContextValues": []})
            i += 1
        return text(jmespath.search(o["--query"], {"EvaluationResults": res}), "None")
    fail("unknown iam call " + cmd)


def iam(pos, o, state):
    # One IAM user, state["user"]; IAM is global, so no --region.
    if "--region" in o:
        fail("IAM call with --region")
    u, cmd = state["user"], pos[1]
    if cmd == "list-mfa-devices":
        return text(jmespath.search(o["--query"], {"MFADevices": u["mfa"]}), "None")
    if cmd == "list-attached-user-policies":
        return text(jmespath.search(o["--query"], {"AttachedPolicies": u["attached"]}), "None")
    if cmd == "list-access-keys":
        return text(jmespath.search(o["--query"], {"AccessKeyMetadata": u["keys"]}), "None")
    if cmd == "get-access-key-last-used":
        return "LastUsedDate: none"
    if cmd == "update-access-key":
        for k in u["keys"]:
            if k["AccessKeyId"] == o["--access-key-id"]:
                k["Status"] = o["--status"]
        save(state)
        return None
    if cmd == "get-user":
        return text(jmespath.search(o["--query"], {"User": {"Arn": u["arn"]}}), "None")
    if cmd == "simulate-principal-policy":
        res = [{"EvalDecision": "allowed" if u["can_enrol"] else "implicitDeny"}] * 2
        return text(jmespath.search(o["--query"], {"EvaluationResults": res}), "None")
    if cmd == "get-policy":
        sys.stderr.write("An error occurred (NoSuchEntity)\n")
        sys.exit(254)
    if cmd == "create-policy":
        return None
    if cmd == "attach-user-policy":
        u["attached"].append({"PolicyArn": o["--policy-arn"]})
        save(state)
        return None
    fail("unknown iam call " + cmd)


def az(args, state):
    pos, o = opts(args)
    cmd = " ".join(pos)
    if cmd == "account show":
        return state["subscription"]
    if o.get("--subscription") != state["subscription"] or o.get("--nsg-name") != state["nsg"]:
        fail("wrong subscription or NSG")
    if cmd == "network nsg rule list":
        return text(jmespath.search(o["--query"], state["rules"]), "")
    named = [r for r in state["rules"] if r["name"] == o.get("--name")]
    if not named:
        fail("no rule " + str(o.get("--name")))
    if cmd == "network nsg rule show":
        return json.dumps(named[0])
    if cmd == "network nsg rule delete":
        state["rules"] = [r for r in state["rules"] if r["name"] != o["--name"]]
        save(state)
        return None
    fail("unknown az call " + " ".join(args))


def gcloud(args, state):
    pos, o = opts(args)
    if pos == ["config", "get-value", "project"]:
        return state["project"]
    if o.get("--project") != state["project"] or pos[3:] != [state["firewall"]]:
        fail("wrong project or rule")
    cmd = " ".join(pos[:3])
    if cmd == "compute firewall-rules describe" and o.get("--format") == "value(sourceRanges)":
        return ";".join(state["sourceRanges"])
    if cmd == "compute firewall-rules describe" and o.get("--format") == "value(direction)":
        return state.get("direction", "INGRESS")
    if cmd == "compute firewall-rules describe" and o.get("--format") == "value(disabled)":
        return "True" if state.get("disabled") else "False"
    if (cmd == "compute firewall-rules describe" and o.get("--flatten") == "allowed[],allowed.ports[]"
            and o.get("--format") == "value[separator=':'](allowed.IPProtocol,allowed.ports)"):
        # One line per protocol and port, as gcloud prints a flattened list.
        lines = []
        for a in state.get("allowed", [{"IPProtocol": "tcp", "ports": ["22"]}]):
            for p in a.get("ports") or [""]:
                lines.append(a["IPProtocol"] + ":" + p)
        return "\n".join(lines)
    if cmd == "compute firewall-rules update":
        state["sourceRanges"] = o["--source-ranges"].split(",")
        save(state)
        return None
    fail("unknown gcloud call " + " ".join(args))


def main():
    tool, args = sys.argv[1], sys.argv[2:]
    with open(os.environ["FAKECLI_LOG"], "a") as f:
        f.write(" ".join([tool] + args) + "\n")
    out = {"aws": aws, "az": az, "gcloud": gcloud}[tool](args, load())
    if out is not None:
        print(out)


main()
