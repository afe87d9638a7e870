"""PS3.15 Annex E Table E.1-1, Basic Application Level Confidentiality Profile column, as data.

Written from the standard's table (attribute, tag, basic-profile action); the test suite checks every tag
against pydicom's data dictionary so that a typo cannot silently leave an attribute untouched. Action codes:
  D  replace with a dummy value of the same VR      Z  replace with zero length (or a dummy)
  X  remove                                         K  keep
  C  clean (we never try to clean free text; C is applied as X)
  U  replace the UID by a consistent pseudonym (see deid.pseudo_uid)
Composite codes ("X/Z", "X/Z/D", "Z/D", "X/Z/U*") leave the choice to the implementation depending on the
attribute's Type in the IOD. We do not track Types per IOD, so we pick the most protective choice that keeps a
usable object: any composite starting with X removes the attribute; "Z/D" empties it. Entries marked "+"
are not in the basic profile but are removed here too (site-identifying AE titles, GPS/camera owner data of
group 0016); the walker in deid.py adds VR-wide safety nets on top of this table (see its docstring).
"""

from __future__ import annotations

_TABLE = """
0000,1000 X      AffectedSOPInstanceUID
0000,1001 U      RequestedSOPInstanceUID
0002,0003 U      MediaStorageSOPInstanceUID
0002,0016 X+     SourceApplicationEntityTitle
0002,0017 X+     SendingApplicationEntityTitle
0002,0018 X+     ReceivingApplicationEntityTitle
0002,0100 X+     PrivateInformationCreatorUID
0002,0102 X+     PrivateInformation
0004,1511 U      ReferencedSOPInstanceUIDInFile
0008,0012 X/D    InstanceCreationDate
0008,0013 X/Z/D  InstanceCreationTime
0008,0014 U      InstanceCreatorUID
0008,0015 X      InstanceCoercionDateTime
0008,0017 U      AcquisitionUID
0008,0018 U      SOPInstanceUID
0008,0020 Z      StudyDate
0008,0021 X/D    SeriesDate
0008,0022 X/Z    AcquisitionDate
0008,0023 Z/D    ContentDate
0008,0024 X      OverlayDate
0008,0025 X      CurveDate
0008,002A X/Z/D  AcquisitionDateTime
0008,0030 Z      StudyTime
0008,0031 X/D    SeriesTime
0008,0032 X/Z    AcquisitionTime
0008,0033 Z/D    ContentTime
0008,0034 X      OverlayTime
0008,0035 X      CurveTime
0008,0050 Z      AccessionNumber
0008,0051 X      IssuerOfAccessionNumberSequence
0008,0054 X+     RetrieveAETitle
0008,0055 X+     StationAETitle
0008,0058 U      FailedSOPInstanceUIDList
0008,0080 X/Z/D  InstitutionName
0008,0081 X      InstitutionAddress
0008,0082 X/Z/D  InstitutionCodeSequence
0008,0090 Z      ReferringPhysicianName
0008,0092 X      ReferringPhysicianAddress
0008,0094 X      ReferringPhysicianTelephoneNumbers
0008,0096 X      ReferringPhysicianIdentificationSequence
0008,009C X/Z    ConsultingPhysicianName
0008,009D X      ConsultingPhysicianIdentificationSequence
0008,010D U      ContextGroupExtensionCreatorUID
0008,0201 X      TimezoneOffsetFromUTC
0008,0300 X      PrivateDataElementCharacteristicsSequence
0008,1010 X/Z/D  StationName
0008,1030 X      StudyDescription
0008,103E X      SeriesDescription
0008,1040 X      InstitutionalDepartmentName
0008,1041 X      InstitutionalDepartmentTypeCodeSequence
0008,1048 X      PhysiciansOfRecord
0008,1049 X      PhysiciansOfRecordIdentificationSequence
0008,1050 X      PerformingPhysicianName
0008,1052 X      PerformingPhysicianIdentificationSequence
0008,1060 X      NameOfPhysiciansReadingStudy
0008,1062 X      PhysiciansReadingStudyIdentificationSequence
0008,1070 X/Z/D  OperatorsName
0008,1072 X/D    OperatorIdentificationSequence
0008,1080 X      AdmittingDiagnosesDescription
0008,1084 X      AdmittingDiagnosesCodeSequence
0008,1110 X/Z    ReferencedStudySequence
0008,1111 X/Z/D  ReferencedPerformedProcedureStepSequence
0008,1120 X      ReferencedPatientSequence
0008,1140 X/Z/U* ReferencedImageSequence
0008,1155 U      ReferencedSOPInstanceUID
0008,1190 X+     RetrieveURL
0008,1195 U      TransactionUID
0008,1250 X      RelatedSeriesSequence
0008,2111 X      DerivationDescription
0008,2112 X/Z/U* SourceImageSequence
0008,3010 U      IrradiationEventUID
0008,4000 X      IdentifyingComments
0008,9123 U      CreatorVersionUID
0010,0010 Z      PatientName
0010,0020 Z      PatientID
0010,0021 X      IssuerOfPatientID
0010,0022 X      TypeOfPatientID
0010,0024 X      IssuerOfPatientIDQualifiersSequence
0010,0030 Z      PatientBirthDate
0010,0032 X      PatientBirthTime
0010,0033 X      PatientBirthDateInAlternativeCalendar
0010,0034 X      PatientDeathDateInAlternativeCalendar
0010,0035 X      PatientAlternativeCalendar
0010,0040 Z      PatientSex
0010,0050 X      PatientInsurancePlanCodeSequence
0010,0101 X      PatientPrimaryLanguageCodeSequence
0010,0102 X      PatientPrimaryLanguageModifierCodeSequence
0010,1000 X      OtherPatientIDs
0010,1001 X      OtherPatientNames
0010,1002 X      OtherPatientIDsSequence
0010,1005 X      PatientBirthName
0010,1010 X      PatientAge
0010,1020 X      PatientSize
0010,1030 X      PatientWeight
0010,1040 X      PatientAddress
0010,1050 X      InsurancePlanIdentification
0010,1060 X      PatientMotherBirthName
0010,1080 X      MilitaryRank
0010,1081 X      BranchOfService
0010,1090 X      MedicalRecordLocator
0010,1100 X      ReferencedPatientPhotoSequence
0010,2000 X      MedicalAlerts
0010,2110 X      Allergies
0010,2150 X      CountryOfResidence
0010,2152 X      RegionOfResidence
0010,2154 X      PatientTelephoneNumbers
0010,2155 X      PatientTelecomInformation
0010,2160 X      EthnicGroup
0010,2180 X      Occupation
0010,21A0 X      SmokingStatus
0010,21B0 X      AdditionalPatientHistory
0010,21C0 X      PregnancyStatus
0010,21D0 X      LastMenstrualDate
0010,21F0 X      PatientReligiousPreference
0010,2203 X/Z    PatientSexNeutered
0010,2297 X      ResponsiblePerson
0010,2299 X      ResponsibleOrganization
0010,4000 X      PatientComments
0018,0010 Z/D    ContrastBolusAgent
0018,1000 X/Z/D  DeviceSerialNumber
0018,1002 U      DeviceUID
0018,1003 X+     DeviceID
0018,1004 X      PlateID
0018,1005 X      GeneratorID
0018,1007 X      CassetteID
0018,1008 X      GantryID
0018,1009 X      UniqueDeviceIdentifier
0018,100A X      UDISequence
0018,1010 X+     SecondaryCaptureDeviceID
0018,1011 X+     HardcopyCreationDeviceID
0018,1030 X/D    ProtocolName
0018,1072 X      RadiopharmaceuticalStartTime
0018,1073 X      RadiopharmaceuticalStopTime
0018,1078 X      RadiopharmaceuticalStartDateTime
0018,1079 X      RadiopharmaceuticalStopDateTime
0018,11BB D      AcquisitionFieldOfViewLabel
0018,1200 X      DateOfLastCalibration
0018,1201 X      TimeOfLastCalibration
0018,1202 X      DateTimeOfLastCalibration
0018,1400 X/D    AcquisitionDeviceProcessingDescription
0018,2042 U      TargetUID
0018,4000 X      AcquisitionComments
0018,700A X/D    DetectorID
0018,700C X/D    DateOfLastDetectorCalibration
0018,700E X/D    TimeOfLastDetectorCalibration
0018,9074 X/D    FrameAcquisitionDateTime
0018,9151 X/D    FrameReferenceDateTime
0018,9185 X      RespiratoryMotionCompensationTechniqueDescription
0018,9367 X      XRaySourceID
0018,9371 X      XRayDetectorID
0018,9373 X      XRayDetectorLabel
0018,937B X      MultienergyAcquisitionDescription
0018,9424 X      AcquisitionProtocolDescription
0018,9516 X/D    StartAcquisitionDateTime
0018,9517 X/D    EndAcquisitionDateTime
0018,9623 X/D    FunctionalSyncPulse
0018,9701 X/D    DecayCorrectionDateTime
0018,9804 X/D    ExclusionStartDateTime
0018,9919 X/D    InstructionPerformedDateTime
0018,A001 X      ContributingEquipmentSequence
0018,A002 X/D    ContributionDateTime
0018,A003 X      ContributionDescription
0020,000D U      StudyInstanceUID
0020,000E U      SeriesInstanceUID
0020,0010 Z      StudyID
0020,0052 U      FrameOfReferenceUID
0020,0200 U      SynchronizationFrameOfReferenceUID
0020,3401 X      ModifyingDeviceID
0020,3404 X      ModifyingDeviceManufacturer
0020,3406 X      ModifiedImageDescription
0020,4000 X      ImageComments
0020,9158 X      FrameComments
0020,9161 U      ConcatenationUID
0020,9164 U      DimensionOrganizationUID
0028,1199 U      PaletteColorLookupTableUID
0028,1214 U      LargePaletteColorLookupTableUID
0028,4000 X      ImagePresentationComments
0028,7FE0 X      PixelDataProviderURL
0032,0012 X      StudyIDIssuer
0032,1020 X      ScheduledStudyLocation
0032,1021 X      ScheduledStudyLocationAETitle
0032,1030 X      ReasonForStudy
0032,1032 X      RequestingPhysician
0032,1033 X      RequestingService
0032,1060 X/Z    RequestedProcedureDescription
0032,1070 X      RequestedContrastAgent
0032,4000 X      StudyComments
0038,0004 X      ReferencedPatientAliasSequence
0038,0008 X      VisitStatusID
0038,0010 X      AdmissionID
0038,0011 X      IssuerOfAdmissionID
0038,0014 X      IssuerOfAdmissionIDSequence
0038,0016 X      RouteOfAdmissions
0038,001A X      ScheduledAdmissionDate
0038,001B X      ScheduledAdmissionTime
0038,001C X      ScheduledDischargeDate
0038,001D X      ScheduledDischargeTime
0038,001E X      ScheduledPatientInstitutionResidence
0038,0020 X      AdmittingDate
0038,0021 X      AdmittingTime
0038,0030 X      DischargeDate
0038,0032 X      DischargeTime
0038,0040 X      DischargeDiagnosisDescription
0038,0050 X      SpecialNeeds
0038,0060 X      ServiceEpisodeID
0038,0061 X      IssuerOfServiceEpisodeID
0038,0062 X      ServiceEpisodeDescription
0038,0064 X      IssuerOfServiceEpisodeIDSequence
0038,0300 X      CurrentPatientLocation
0038,0400 X      PatientInstitutionResidence
0038,0500 X      PatientState
0038,4000 X      VisitComments
0040,0001 X      ScheduledStationAETitle
0040,0002 X      ScheduledProcedureStepStartDate
0040,0003 X      ScheduledProcedureStepStartTime
0040,0004 X      ScheduledProcedureStepEndDate
0040,0005 X      ScheduledProcedureStepEndTime
0040,0006 X      ScheduledPerformingPhysicianName
0040,0007 X      ScheduledProcedureStepDescription
0040,0009 X      ScheduledProcedureStepID
0040,000B X      ScheduledPerformingPhysicianIdentificationSequence
0040,0010 X      ScheduledStationName
0040,0011 X      ScheduledProcedureStepLocation
0040,0012 X      PreMedication
0040,0241 X      PerformedStationAETitle
0040,0242 X      PerformedStationName
0040,0243 X      PerformedLocation
0040,0244 X      PerformedProcedureStepStartDate
0040,0245 X      PerformedProcedureStepStartTime
0040,0250 X      PerformedProcedureStepEndDate
0040,0251 X      PerformedProcedureStepEndTime
0040,0253 X      PerformedProcedureStepID
0040,0254 X      PerformedProcedureStepDescription
0040,0275 X      RequestAttributesSequence
0040,0280 X      CommentsOnThePerformedProcedureStep
0040,0310 X      CommentsOnRadiationDose
0040,050A X      SpecimenAccessionNumber
0040,0512 D      ContainerIdentifier
0040,0513 Z      IssuerOfTheContainerIdentifierSequence
0040,051A X      ContainerDescription
0040,0551 D      SpecimenIdentifier
0040,0554 U      SpecimenUID
0040,0555 X      AcquisitionContextSequence
0040,0556 X      AcquisitionContextDescription
0040,0562 Z      IssuerOfTheSpecimenIdentifierSequence
0040,0600 X      SpecimenShortDescription
0040,0602 X      SpecimenDetailedDescription
0040,06FA X      SlideIdentifier
0040,1001 X      RequestedProcedureID
0040,1004 X      PatientTransportArrangements
0040,1005 X      RequestedProcedureLocation
0040,1010 X      NamesOfIntendedRecipientsOfResults
0040,1011 X      IntendedRecipientsOfResultsIdentificationSequence
0040,1101 D      PersonIdentificationCodeSequence
0040,1102 X      PersonAddress
0040,1103 X      PersonTelephoneNumbers
0040,1104 X      PersonTelecomInformation
0040,1400 X      RequestedProcedureComments
0040,2001 X      ReasonForTheImagingServiceRequest
0040,2004 X      IssueDateOfImagingServiceRequest
0040,2005 X      IssueTimeOfImagingServiceRequest
0040,2008 X      OrderEnteredBy
0040,2009 X      OrderEntererLocation
0040,2010 X      OrderCallbackPhoneNumber
0040,2011 X      OrderCallbackTelecomInformation
0040,2016 Z      PlacerOrderNumberImagingServiceRequest
0040,2017 Z      FillerOrderNumberImagingServiceRequest
0040,2400 X      ImagingServiceRequestComments
0040,3001 X      ConfidentialityConstraintOnPatientDataDescription
0040,4005 X      ScheduledProcedureStepStartDateTime
0040,4008 X      ScheduledProcedureStepExpirationDateTime
0040,4010 X      ScheduledProcedureStepModificationDateTime
0040,4011 X      ExpectedCompletionDateTime
0040,4023 U      ReferencedGeneralPurposeScheduledProcedureStepTransactionUID
0040,4025 X      ScheduledStationNameCodeSequence
0040,4027 X      ScheduledStationGeographicLocationCodeSequence
0040,4028 X      PerformedStationNameCodeSequence
0040,4030 X      PerformedStationGeographicLocationCodeSequence
0040,4034 X      ScheduledHumanPerformersSequence
0040,4035 X      ActualHumanPerformersSequence
0040,4036 X      HumanPerformerOrganization
0040,4037 X      HumanPerformerName
0040,4050 X      PerformedProcedureStepStartDateTime
0040,4051 X      PerformedProcedureStepEndDateTime
0040,A027 X      VerifyingOrganization
0040,A030 D      VerificationDateTime
0040,A032 X/D    ObservationDateTime
0040,A073 D      VerifyingObserverSequence
0040,A075 D      VerifyingObserverName
0040,A078 X      AuthorObserverSequence
0040,A07A X      ParticipantSequence
0040,A07C X      CustodialOrganizationSequence
0040,A082 X/D    ParticipationDateTime
0040,A088 Z      VerifyingObserverIdentificationCodeSequence
0040,A120 D      DateTime
0040,A121 D      Date
0040,A122 D      Time
0040,A123 D      PersonName
0040,A124 U      UID
0040,A13A D      ReferencedDateTime
0040,A160 X      TextValue
0040,A171 U      ObservationUID
0040,A172 U      ReferencedObservationUIDTrial
0040,A192 X      ObservationDateTrial
0040,A193 X      ObservationTimeTrial
0040,A352 X      VerbalSourceTrial
0040,A353 X      AddressTrial
0040,A354 X      TelephoneNumberTrial
0040,A358 X      VerbalSourceIdentifierCodeSequenceTrial
0040,A390 X      HL7StructuredDocumentReferenceSequence
0040,A402 U      ObservationSubjectUIDTrial
0040,A730 X      ContentSequence
0040,DB06 X      TemplateVersion
0040,DB07 X      TemplateLocalVersion
0040,DB0C U      TemplateExtensionOrganizationUID
0040,DB0D U      TemplateExtensionCreatorUID
0040,E001 X      HL7InstanceIdentifier
0040,E010 X+     RetrieveURI
0050,0020 X      DeviceDescription
0062,0020 X      TrackingID
0062,0021 U      TrackingUID
0070,0001 D      GraphicAnnotationSequence
0070,0084 Z      ContentCreatorName
0070,0086 X      ContentCreatorIdentificationCodeSequence
0070,031A U      FiducialUID
0070,1101 U      PresentationDisplayCollectionUID
0070,1102 U      PresentationSequenceCollectionUID
0072,000A X      HangingProtocolCreationDateTime
0088,0140 U      StorageMediaFileSetUID
0088,0200 X      IconImageSequence
0088,0904 X      TopicTitle
0088,0906 X      TopicSubject
0088,0910 X      TopicAuthor
0088,0912 X      TopicKeywords
0100,0420 X      SOPAuthorizationDateTime
0400,0100 X      DigitalSignatureUID
0400,0105 X      DigitalSignatureDateTime
0400,0115 X      CertificateOfSigner
0400,0120 X      Signature
0400,0310 X      CertifiedTimestamp
0400,0402 X      ReferencedDigitalSignatureSequence
0400,0403 X      ReferencedSOPInstanceMACSequence
0400,0404 X      MAC
0400,0500 X      EncryptedAttributesSequence
0400,0550 X      ModifiedAttributesSequence
0400,0561 X      OriginalAttributesSequence
0400,0562 X      AttributeModificationDateTime
0400,0563 X      ModifyingSystem
0400,0564 X      SourceOfPreviousValues
0400,0565 X      ReasonForTheAttributeModification
2030,0020 X      TextString
3006,0002 D      StructureSetLabel
3006,0004 X      StructureSetName
3006,0006 X      StructureSetDescription
3006,0008 X/Z    StructureSetDate
3006,0009 X/Z    StructureSetTime
3006,0024 U      ReferencedFrameOfReferenceUID
3006,0026 X      ROIName
3006,0028 X      ROIDescription
3006,0085 X      ROIObservationLabel
3006,0088 X      ROIObservationDescription
3006,00A6 Z      ROIInterpreter
3006,00C2 U      RelatedFrameOfReferenceUID
3008,0024 X/D    TreatmentControlPointDate
3008,0025 X/D    TreatmentControlPointTime
3008,0054 X/D    FirstTreatmentDate
3008,0056 X/D    MostRecentTreatmentDate
3008,0105 X/Z    SourceSerialNumber
3008,0250 X/D    TreatmentDate
3008,0251 X/D    TreatmentTime
300A,0002 D      RTPlanLabel
300A,0003 X      RTPlanName
300A,0004 X      RTPlanDescription
300A,0006 X/Z    RTPlanDate
300A,0007 X/Z    RTPlanTime
300A,0013 U      DoseReferenceUID
300A,0016 X      DoseReferenceDescription
300A,00B2 X/Z    TreatmentMachineName
300A,0650 U      PatientSetupUID
300A,0700 U      TreatmentSessionUID
300C,0113 X      ReasonForOmissionDescription
300E,0004 X/Z    ReviewDate
300E,0005 X/Z    ReviewTime
300E,0008 X/Z    ReviewerName
3010,0006 U      ConceptualVolumeUID
3010,000B U      ReferencedConceptualVolumeUID
3010,000F X      ConceptualVolumeCombinationDescription
3010,0013 U      ConstituentConceptualVolumeUID
3010,0015 U      SourceConceptualVolumeUID
3010,002D X      DeviceLabel
3010,0031 U      ReferencedFiducialsUID
3010,003B U      RTTreatmentPhaseUID
3010,006E U      DosimetricObjectiveUID
4000,0010 X      Arbitrary
4000,4000 X      TextComments
4008,0042 X      ResultsIDIssuer
4008,0102 X      InterpretationRecorder
4008,010A X      InterpretationTranscriber
4008,010B X      InterpretationText
4008,010C X      InterpretationAuthor
4008,0111 X      InterpretationApproverSequence
4008,0114 X      PhysicianApprovingInterpretation
4008,0115 X      InterpretationDiagnosisDescription
4008,0118 X      ResultsDistributionListSequence
4008,0119 X      DistributionName
4008,011A X      DistributionAddress
4008,0202 X      InterpretationIDIssuer
4008,0300 X      Impressions
4008,4000 X      ResultsComments
4FFE,0001 X      MACParametersSequence
FFFA,FFFA X      DigitalSignaturesSequence
"""

# Whole groups removed: curves (50xx, retired, free-form), overlays (60xx: bitmap graphics and their comments
# can draw text over the image; the profile removes Overlay Data and Comments, a group without them is useless),
# and 0016 (EXIF-style photographic data, including the camera owner and the GPS position, "+" above).
REMOVED_REPEATING_GROUPS = range(0x5000, 0x5020, 2), range(0x6000, 0x6020, 2)
REMOVED_GROUPS = frozenset({0x0016})


def _reduce(action: str) -> str:
    """Composite action -> the one we apply (module docstring)."""
    action = action.rstrip("+")
    if action.startswith("X") or action == "C":
        return "X"
    if action == "Z/D":
        return "Z"
    return action


def _parse(table: str) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    actions: dict[int, str] = {}
    declared: dict[int, str] = {}
    keywords: dict[int, str] = {}
    for line in table.strip().splitlines():
        tag_text, action, keyword = line.split()
        group, element = tag_text.split(",")
        tag = int(group, 16) << 16 | int(element, 16)
        if tag in actions:
            raise ValueError(f"duplicate entry for {tag_text} in the profile table")
        actions[tag] = _reduce(action)
        declared[tag] = action
        keywords[tag] = keyword
    return actions, declared, keywords


# ACTIONS: tag -> one of D, Z, X, U applied by deid.py. DECLARED keeps the table's own code for audits/tests.
ACTIONS, DECLARED, KEYWORDS = _parse(_TABLE)
