-- switchboard 016: a claimed phone number's calls belong to its owner from the claim on.
--
-- A caller sees the calls of their assistants, workflows and numbers. A number claimed from the
-- org's inventory (phone-numbers `provision` with `phoneNumberId`) may have carried calls
-- before, routed to someone else's assistant; those are not the new owner's. `owned_since` is
-- the time of the claim; a call on the number is the owner's when it was created at or after
-- it. NULL: a number the owner created (it has no earlier calls), rows written before this
-- migration, and operators' rows.
ALTER TABLE phone_numbers ADD COLUMN owned_since timestamptz;
