-- bench/tokens.lua - wrk script: every request carries the next token of a
-- file (one token a line), cycling, so each request shows the server a
-- token it has not seen for a long time (first-seen tokens).
--
--   wrk ... -s bench/tokens.lua URL -- TOKENS_FILE [START_INDEX]
--
-- The file is read in init(), before wrk starts its clock.  Requests are
-- built by concatenation (no wrk.format per request) to keep the client
-- cheap; wrk runs on its own core anyway.

local toks, n, i = {}, 0, 0
local prefix

function init(args)
   local file = args[1]
   if not file then
      error("tokens.lua: pass the token file after --")
   end
   for line in io.lines(file) do
      if #line > 0 then
         n = n + 1
         toks[n] = line
      end
   end
   if n == 0 then
      error("tokens.lua: no tokens in " .. file)
   end
   i = (tonumber(args[2] or "0") or 0) % n
   local host = wrk.host
   if wrk.port then
      host = host .. ":" .. wrk.port
   end
   prefix = "GET " .. wrk.path .. " HTTP/1.1\r\nHost: " .. host
            .. "\r\nAuthorization: Bearer "
end

function request()
   i = i + 1
   if i > n then
      i = 1
   end
   return prefix .. toks[i] .. "\r\n\r\n"
end
