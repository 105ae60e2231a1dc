/** The DNS-SD service type servers announce and clients browse (spec section 6.14). */
export const SERVICE_TYPE = '_spyder-remote._tcp.local';
