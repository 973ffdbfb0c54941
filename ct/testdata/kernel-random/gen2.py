import random, sys
from scapy.all import IP, IPv6, TCP, UDP, ICMP, ICMPv6EchoRequest, ICMPv6EchoReply, ICMPv6DestUnreach, ICMPv6TimeExceeded, Raw, wrpcap
seed=int(sys.argv[1]); n=int(sys.argv[2]); out=sys.argv[3]
rnd=random.Random(seed)
L4,W4="203.0.113.10","198.51.100.20"; L6,W6="2001:db8:2::10","2001:db8:1::20"
R4,R6="198.51.100.9","2001:db8:1::9"
pk=[]
sent=[]  # packets that could be quoted
def ip(v6,src,dst): return IPv6(src=src,dst=dst) if v6 else IP(src=src,dst=dst)
for i in range(n):
    v6=rnd.random()<0.4
    L,W,R=(L6,W6,R6) if v6 else (L4,W4,R4)
    fwd=rnd.random()<0.5
    src,dst=(L,W) if fwd else (W,L)
    k=rnd.random()
    if k<0.35:
        sp,dp=rnd.choice([(5000,53),(5001,53),(53,5000),(53,5001)])
        p=ip(v6,src,dst)/UDP(sport=sp,dport=dp)/Raw(b'q'*rnd.choice([1,20]))
        sent.append(p)
    elif k<0.6:
        ident=rnd.choice([1,2])
        if v6: t=ICMPv6EchoRequest(id=ident) if rnd.random()<0.6 else ICMPv6EchoReply(id=ident)
        else: t=ICMP(type=rnd.choice([8,8,0,13,14,9,3]),code=0,id=ident)
        p=ip(v6,src,dst)/t
        if not v6 and p[ICMP].type==3: p=p/Raw(b'\x00'*28)
        sent.append(p)
    elif k<0.85 and sent:
        q=rnd.choice(sent)
        qv6 = q.haslayer(IPv6)
        if qv6!=v6: continue
        # error sent back towards the quoted packet's source, from its dst or a router
        frm = q[0].dst if rnd.random()<0.6 else R
        to = q[0].src if rnd.random()<0.85 else rnd.choice([L,W])
        inner=bytes(q)[:48 if v6 else 28]
        if v6: p=IPv6(src=frm,dst=to)/(ICMPv6DestUnreach(code=4) if rnd.random()<0.5 else ICMPv6TimeExceeded())/Raw(inner)
        else: p=IP(src=frm,dst=to)/ICMP(type=rnd.choice([3,11,12,4]),code=rnd.choice([0,3]))/Raw(inner)
    else:
        sp,dp=(40000,80) if fwd else (80,40000)
        fl=rnd.choice(['S','SA','A','PA','FA','R'])
        p=ip(v6,src,dst)/TCP(sport=sp,dport=dp,flags=fl,seq=rnd.choice([1000,1001,5000,5001]),ack=rnd.choice([1001,5001,0]) if 'A' in fl else 0)
        sent.append(p)
    p=p.__class__(bytes(p)); p.time=1700000000+len(pk)*0.001
    pk.append(p)
wrpcap(out, pk, linktype=101)
