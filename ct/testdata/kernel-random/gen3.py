import random, sys
from scapy.all import IP, IPv6, wrpcap, Raw
from scapy.layers.sctp import *
seed=int(sys.argv[1]); n=int(sys.argv[2]); out=sys.argv[3]
rnd=random.Random(seed)
L,W="203.0.113.10","198.51.100.20"
A,B=0x11111111,0x22222222
def mk(d, tag, *chunks):
    src,dst,sp,dp=(L,W,5000,38412) if d==0 else (W,L,38412,5000)
    p=IP(src=src,dst=dst)/SCTP(sport=sp,dport=dp,tag=tag)
    for c in chunks: p=p/c
    return p
script=[
 (0,0,[SCTPChunkInit(init_tag=A,a_rwnd=65535,n_out_streams=1,n_in_streams=1,init_tsn=1)]),
 (1,A,[SCTPChunkInitAck(init_tag=B,a_rwnd=65535,n_out_streams=1,n_in_streams=1,init_tsn=1)]),
 (0,B,[SCTPChunkCookieEcho(cookie=b'c'*8)]),
 (1,A,[SCTPChunkCookieAck()]),
 (0,B,[SCTPChunkData(data=b'x'*4)]),
 (1,A,[SCTPChunkSACK()]),
 (0,B,[SCTPChunkHeartbeatReq()]),
 (1,A,[SCTPChunkHeartbeatAck()]),
 (0,B,[SCTPChunkShutdown()]),
 (1,A,[SCTPChunkShutdownAck()]),
 (0,B,[SCTPChunkShutdownComplete()]),
]
pk=[]
if seed==0:
    for d,tag,ch in script: pk.append(mk(d,tag,*ch))
else:
    choices=[s for s in script]
    for i in range(n):
        d,tag,ch=rnd.choice(choices)
        if rnd.random()<0.2: tag=rnd.choice([0,A,B,0x33333333])
        if rnd.random()<0.15: d=1-d
        chs=list(ch)
        if rnd.random()<0.1: chs=chs+[SCTPChunkData(data=b'y')]
        if rnd.random()<0.05: chs=[SCTPChunkAbort()]
        pk.append(mk(d,tag,*chs))
outp=[]
for i,p in enumerate(pk):
    q=IP(bytes(p)); q.time=1700000000+i*0.001; outp.append(q)
wrpcap(out, outp, linktype=101)
