-- switchboard 020: the mirror keeps no secret of a number's provider.
--
-- Vapi returns a Twilio number with its `twilioAuthToken` and `twilioApiSecret`, and a SIP
-- number with its `authentication.password`. The management API no longer shows or mirrors them
-- (src/manage/common.cpp, redact_provider_secrets): a caller who claimed an operator's number
-- was shown the operator's Twilio token. What earlier versions mirrored is removed here. The
-- rows keep their updated_at (which decides between two rows of one number), and the routes
-- are not touched (the routing trigger announces the rows all the same; a reload finds them as
-- they were).
ALTER TABLE phone_numbers DISABLE TRIGGER phone_numbers_touch;
UPDATE phone_numbers
   SET vapi = (vapi - 'twilioAuthToken' - 'twilioApiSecret') #- '{authentication,password}'
 WHERE vapi ?| ARRAY['twilioAuthToken', 'twilioApiSecret']
    OR vapi->'authentication' ? 'password';
ALTER TABLE phone_numbers ENABLE TRIGGER phone_numbers_touch;
