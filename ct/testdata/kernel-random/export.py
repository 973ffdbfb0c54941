import json, sys, os
# export.py RESULT.json PCAP OUTDIR NAME [sysctl=v...]
res=json.load(open(sys.argv[1])); pcap=sys.argv[2]; outdir=sys.argv[3]; name=sys.argv[4]; sysctls=sys.argv[5:]
os.makedirs(outdir, exist_ok=True)
lines=['# kernel %s, oracle.py --mode forward, ruleset: forward chain sorting packets by ct state (invalid dropped)' % res.get('kernel','')]
for s in sysctls: lines.append('sysctl '+s)
for i,inj in enumerate(res['injected']):
    cls=None
    for ch in inj.get('chains',[]):
        for r in ch.get('rules',[]):
            t=r.get('rule','')
            for k in ['invalid','new','established','related','untracked']:
                if 'ct state '+k in t and r.get('verdict') in ('accept','drop'): cls=k
    lines.append('packet %d %s' % (i, cls or inj['verdict']))
for e in sorted(res['conntrack']['entries'], key=lambda e: e['raw']):
    t=[x for x in e['raw'].split() if not x.startswith('use=')]
    if t[0] in ('ipv4','ipv6'): t=t[2:]
    lines.append('conntrack '+' '.join(t))
open(os.path.join(outdir,name+'.kernel'),'w').write('\n'.join(lines)+'\n')
os.system('cp %s %s' % (pcap, os.path.join(outdir,name+'.pcap')))
