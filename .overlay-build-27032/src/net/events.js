// Link events (RTM_NEWLINK / RTM_DELLINK) from a namespace, for agents that react to
// interfaces appearing or vanishing. Reads the inner socket's raw messages so NEW vs DEL
// is kept (the RtNetlinkSocket 'message' event drops the message type).
import nl from 'netlink';
import { openRtnl } from './rtnl.js';
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
/** Subscribe to link events in `netns`; returns a function that stops and closes the socket. */
export function watchLinks(netns, onEvent) {
    const r = openRtnl(netns);
    r.sock.addMembership('LINK');
    r.sock.socket.ref();
    r.sock.socket.on('message', (msgs) => {
        for (const m of msgs) {
            if (m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK)
                continue;
            try {
                const parsed = nl.rt.parseLinkMessage(m.data);
                onEvent({
                    type: m.type === RTM_NEWLINK ? 'new' : 'del',
                    index: parsed.data.index ?? 0,
                    name: parsed.attrs.ifname ?? '',
                    up: Boolean(parsed.data.flags?.up),
                });
            }
            catch {
                // a message we cannot parse is not an event we can report
            }
        }
    });
    return () => r.close();
}
