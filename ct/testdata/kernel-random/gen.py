import random, sys
from scapy.all import IP, TCP, Raw, wrpcap
seed=int(sys.argv[1]); n=int(sys.argv[2]); out=sys.argv[3]
rnd=random.Random(seed)
flows=[("203.0.113.10",40000+i,"198.51.100.20",80) for i in range(3)]
state={}
for f in flows: state[f]={'c':rnd.randrange(1,2**32), 's':rnd.randrange(1,2**32)}
flagsets=['S','S','SA','SA','A','A','A','PA','PA','FA','FA','R','RA','F','SF','']
pk=[]
for i in range(n):
    f=rnd.choice(flows); st=state[f]
    d=rnd.random()<0.5
    fl=rnd.choice(flagsets)
    me,peer=('c','s') if d else ('s','c')
    seq=st[me] if rnd.random()<0.8 else (st[me]+rnd.choice([-100000,-1,1,70000,2**31]))%2**32
    ack=st[peer] if rnd.random()<0.8 else (st[peer]+rnd.choice([-100000,-1,1,70000]))%2**32
    ln=rnd.choice([0,0,0,10])
    if 'S' in fl or 'R' in fl: ln=0
    if d: ip=IP(src=f[0],dst=f[2]); tcp=TCP(sport=f[1],dport=f[3])
    else: ip=IP(src=f[2],dst=f[0]); tcp=TCP(sport=f[3],dport=f[1])
    tcp.flags=fl; tcp.seq=seq; tcp.ack=ack if 'A' in fl else 0; tcp.window=rnd.choice([65535,65535,0,512])
    p=ip/tcp
    if ln: p=p/Raw(b'x'*ln)
    p=IP(bytes(p)); p.time=1700000000+i*0.001
    pk.append(p)
    if seq==st[me] and rnd.random()<0.9:
        st[me]=(seq+ln+(1 if ('S' in fl or 'F' in fl) else 0))%2**32
wrpcap(out, pk, linktype=101)
